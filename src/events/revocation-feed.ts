import { EventEmitter } from 'node:events';
import type { RevocationStatement, RevocationStore } from '../revocation/statement.js';

/**
 * Tells every server sharing one database that revocations were committed somewhere (PostgreSQL: NOTIFY). It is
 * only a wake-up: what was committed is read back from the store, so a lost or late announcement costs delay,
 * never a statement.
 */
export interface RevocationNotifier {
  /** Says "new statements committed" to the other servers. */
  announce(): Promise<void>;
  /** Calls `listener` whenever another server announced (or the channel may have missed some); returns the stop. */
  onAnnounce(listener: () => void): () => void;
}

/** How often a following feed reads the store anyway, in case an announcement was lost. */
const CATCH_UP_INTERVAL_MS = 5_000;

/**
 * The server side of push revocation: new statements are announced in-process the moment they commit, and the
 * store answers "what came after position N" for guards resuming after a disconnect, so none is ever lost.
 *
 * With several servers on one database, `follow` makes a statement committed by any of them reach this server's
 * subscribers too: on each announcement it reads the statements after the last one it has seen.
 */
export class RevocationFeed {
  private readonly emitter = new EventEmitter();
  /** The position up to which the store has been read (only while following). */
  private through = 0;
  private following = false;
  private reading: Promise<void> | undefined;
  private readAgain = false;

  constructor(
    private readonly store: RevocationStore,
    /** The longest an access token can live: a statement matters to a guard only that long after it. */
    readonly maxTokenTtl: number,
    private readonly notifier?: RevocationNotifier,
  ) {
    this.emitter.setMaxListeners(0);
  }

  /**
   * Announces a statement committed by this server: to its subscribers at once, to the other servers by notifier.
   * While following, this server's statements too are sent by reading the store, so subscribers get every
   * statement in stream order (they skip any position at or below the last they sent): a statement of another
   * server with a lower position may still be on its way here.
   */
  publish(statement: RevocationStatement): void {
    if (this.following) {
      void this.catchUp();
    } else {
      this.emitter.emit('revocation', statement);
    }
    this.notifier?.announce().catch(() => {
      // The other servers read the store every few seconds anyway (follow), so a failed wake-up only delays.
    });
  }

  /**
   * Starts relaying statements other servers commit, from stream position `fromSeq` (the latest at start).
   * Returns the stop function.
   */
  follow(fromSeq: number): () => void {
    this.through = fromSeq;
    this.following = true;
    const stopListening = this.notifier?.onAnnounce(() => void this.catchUp()) ?? (() => undefined);
    const timer = setInterval(() => void this.catchUp(), CATCH_UP_INTERVAL_MS);
    timer.unref();
    return () => {
      this.following = false;
      stopListening();
      clearInterval(timer);
    };
  }

  /** Reads what was committed after `through` and sends it, in stream order; one read at a time. */
  catchUp(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.readAgain = false;
          for (;;) {
            const page = await this.store.revocationsAfter(this.through, 500);
            for (const statement of page) {
              this.through = Math.max(this.through, statement.seq ?? this.through);
              this.emitter.emit('revocation', statement);
            }
            if (page.length < 500) break;
          }
        } while (this.readAgain);
      } catch {
        // The store is unreachable for now; the next announcement or tick reads again from the same position.
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  subscribe(listener: (statement: RevocationStatement) => void): () => void {
    this.emitter.on('revocation', listener);
    return () => this.emitter.off('revocation', listener);
  }

  /** Statements after `seq` that can still matter at `now`. */
  async backlog(seq: number, now: number): Promise<RevocationStatement[]> {
    const out: RevocationStatement[] = [];
    for (;;) {
      const page = await this.store.revocationsAfter(seq, 500);
      out.push(...page.filter((s) => s.issuedBefore + this.maxTokenTtl > now));
      if (page.length < 500) return out;
      seq = page[page.length - 1]?.seq ?? seq;
    }
  }
}
