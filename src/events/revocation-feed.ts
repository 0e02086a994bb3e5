import { EventEmitter } from 'node:events';
import type { RevocationStatement, RevocationStore } from '../revocation/statement.js';

/**
 * The server side of push revocation: new statements are announced in-process the moment they commit, and the
 * store answers "what came after position N" for guards resuming after a disconnect, so none is ever lost.
 */
export class RevocationFeed {
  private readonly emitter = new EventEmitter();

  constructor(
    private readonly store: RevocationStore,
    /** The longest an access token can live: a statement matters to a guard only that long after it. */
    readonly maxTokenTtl: number,
  ) {
    this.emitter.setMaxListeners(0);
  }

  publish(statement: RevocationStatement): void {
    this.emitter.emit('revocation', statement);
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
