import type { PushedRevocation, RevocationTarget } from '../events/security-event.js';

/** What of a token a revocation statement can name. */
export interface RevocableToken {
  grantId: string | null;
  sub: string;
  jkt: string | null;
  clientId: string;
  iat: number;
  /** The token's claims: its millisecond issue stamp (`iat_ms`) when it carries one, and for the workload kinds (`sub` = `workload:<id>`, `owner`). */
  claims?: Readonly<Record<string, unknown>>;
}

/** What a workload token's `sub` starts with (src/workloads/workload.ts; the guard imports nothing of the server). */
const WORKLOAD_PREFIX = 'workload:';

interface Cutoff {
  /** Tokens issued at or before this millisecond are revoked. */
  issuedBeforeMs: number;
  /** After this no token the statements cover can still be valid: the entry can go. */
  relevantUntil: number;
}

/**
 * The revocation statements a guard has been sent, kept only while they can matter. A statement says "every token
 * of this grant / user / key / client / workload / owner's workloads (or every token) issued at or before T is dead", T to the millisecond and
 * compared with the token's `iat_ms` (a token without one counts as issued at the start of its `iat` second, so
 * it is never let through by a cut in that same second); several about the same
 * target merge into the latest T and the latest end, which never lets through a token any one of them covers.
 * Memory is bounded by the statements of the last token lifetime: each goes at its `relevantUntil`, when every
 * token it covers has expired anyway.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8417#section-2 (the events that carry them)
 */
export class RevocationList {
  private readonly byTarget: Record<Exclude<RevocationTarget, 'all'>, Map<string, Cutoff>> = {
    grant: new Map(),
    user: new Map(),
    jkt: new Map(),
    client: new Map(),
    workload: new Map(),
    owner: new Map(),
  };
  private all: Cutoff | undefined;
  /**
   * When each target's statement may go, earliest first: a sweep removes what has ended without looking at what
   * has not, so a request that triggers one pays for the statements that end, never for the number held. One entry
   * per statement that made its target's end later; an entry whose target was extended since is skipped.
   */
  private readonly endings = new EndingQueue();
  private nextSweep = -Infinity;
  private applied = 0;

  /**
   * @param graceSeconds kept this long past `relevantUntil` (default 60), so a guard that tolerates some clock
   * difference on `exp` (up to this much) never forgets a statement while a token it covers could still pass.
   */
  constructor(private readonly graceSeconds = 60) {}

  /**
   * Changes with every statement applied, and only then: the one way {@link covers} can turn true for a token it
   * was false for (with time a statement only ends).
   */
  get version(): number {
    return this.applied;
  }

  /** Records a statement (idempotent: applying one twice changes nothing). */
  apply(statement: PushedRevocation): void {
    this.applied++;
    const cutoff = { issuedBeforeMs: statement.issuedBeforeMs, relevantUntil: statement.relevantUntil + this.graceSeconds };
    if (statement.kind === 'all') {
      const before = this.all;
      this.all = merge(before, cutoff);
      if (this.all.relevantUntil !== before?.relevantUntil) this.endings.push(this.all.relevantUntil, 'all', '');
      return;
    }
    if (statement.value === null) return;
    const map = this.byTarget[statement.kind];
    const before = map.get(statement.value);
    const merged = merge(before, cutoff);
    map.set(statement.value, merged);
    // A statement applied again (a stream resumed) changes nothing and queues nothing.
    if (merged.relevantUntil !== before?.relevantUntil) this.endings.push(merged.relevantUntil, statement.kind, statement.value);
  }

  /** Whether a statement covers `token`; `now` in seconds (also sweeps what no longer matters, once a second). */
  covers(token: RevocableToken, now: number): boolean {
    if (now >= this.nextSweep) this.sweep(now);
    const iat = issuedAtMs(token);
    return (
      hit(this.all, iat, now) ||
      (token.grantId !== null && hit(this.byTarget.grant.get(token.grantId), iat, now)) ||
      hit(this.byTarget.user.get(token.sub), iat, now) ||
      (token.jkt !== null && hit(this.byTarget.jkt.get(token.jkt), iat, now)) ||
      // A device key's statement also reaches the tokens it vouched for (their `device_jkt`), see device-trust.ts.
      (typeof token.claims?.['device_jkt'] === 'string' && hit(this.byTarget.jkt.get(token.claims['device_jkt']), iat, now)) ||
      hit(this.byTarget.client.get(token.clientId), iat, now) ||
      this.coversWorkload(token, iat, now)
    );
  }

  /** A workload token is dead once its workload, or every workload of its owner, was revoked after it was issued. */
  private coversWorkload(token: RevocableToken, iatMs: number, now: number): boolean {
    if (!token.sub.startsWith(WORKLOAD_PREFIX)) return false;
    const owner = token.claims?.['owner'];
    return (
      hit(this.byTarget.workload.get(token.sub.slice(WORKLOAD_PREFIX.length)), iatMs, now) ||
      (typeof owner === 'string' && hit(this.byTarget.owner.get(owner), iatMs, now))
    );
  }

  /** Forgets statements whose tokens have all expired; returns how many went. */
  sweep(now: number): number {
    let removed = 0;
    for (let ending = this.endings.peek(); ending !== undefined && ending.at <= now; ending = this.endings.peek()) {
      this.endings.pop();
      if (ending.kind === 'all') {
        if (this.all && this.all.relevantUntil <= now) {
          this.all = undefined;
          removed++;
        }
        continue;
      }
      const map = this.byTarget[ending.kind];
      const cutoff = map.get(ending.value);
      // Extended by a later statement: its own entry further down the queue removes it in time.
      if (cutoff && cutoff.relevantUntil <= now) {
        map.delete(ending.value);
        removed++;
      }
    }
    this.nextSweep = now + 1;
    return removed;
  }

  /** How many targets are held (for metrics and the memory test). */
  get size(): number {
    let n = this.all ? 1 : 0;
    for (const map of Object.values(this.byTarget)) n += map.size;
    return n;
  }
}

function merge(a: Cutoff | undefined, b: Cutoff): Cutoff {
  if (!a) return b;
  return { issuedBeforeMs: Math.max(a.issuedBeforeMs, b.issuedBeforeMs), relevantUntil: Math.max(a.relevantUntil, b.relevantUntil) };
}

/**
 * The token's issue time in milliseconds: `iat_ms` when the (signed) token carries one within its `iat` second
 * or just after (stamps are unique, so under load they may run slightly ahead), else the start of `iat`'s second.
 */
function issuedAtMs(token: RevocableToken): number {
  const stamp = token.claims?.['iat_ms'];
  const floor = token.iat * 1000;
  if (typeof stamp === 'number' && Number.isSafeInteger(stamp) && stamp >= floor && stamp < floor + 60_000) return stamp;
  return floor;
}

function hit(cutoff: Cutoff | undefined, iatMs: number, now: number): boolean {
  return cutoff !== undefined && cutoff.relevantUntil > now && iatMs <= cutoff.issuedBeforeMs;
}

interface Ending {
  at: number;
  kind: RevocationTarget;
  value: string;
}

/** A binary min-heap of endings by time: O(log n) to add or take one, whatever the number held. */
class EndingQueue {
  private readonly heap: Ending[] = [];

  push(at: number, kind: RevocationTarget, value: string): void {
    const heap = this.heap;
    let i = heap.push({ at, kind, value }) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Ending).at <= at) break;
      [heap[i], heap[parent]] = [heap[parent] as Ending, heap[i] as Ending];
      i = parent;
    }
  }

  peek(): Ending | undefined {
    return this.heap[0];
  }

  pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && (heap[left] as Ending).at < (heap[smallest] as Ending).at) smallest = left;
      if (right < heap.length && (heap[right] as Ending).at < (heap[smallest] as Ending).at) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest] as Ending, heap[i] as Ending];
      i = smallest;
    }
  }
}
