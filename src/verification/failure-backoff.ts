/** How one kind of key (an account, a browser session, an address) is slowed after failures. */
export interface BackoffLimits {
  /** Failures allowed with no delay. */
  freeFailures: number;
  /** Wait after the first failure past the free ones, in seconds; it doubles with each further failure. */
  baseDelay: number;
  /** Longest delay between two attempts, in seconds. */
  maxDelay: number;
  /** Failures in one window after which the key is refused until the oldest ages out; Infinity for never. */
  maxFailures: number;
  /** Seconds a failure counts for. */
  window: number;
}

/**
 * Failed attempts per key with growing delays: after `freeFailures` failures, each further failure makes the next
 * attempt wait baseDelay·2^(n−free−1) seconds (at most maxDelay) after the last failure; at `maxFailures` in a window the key
 * waits for the oldest failure to age out. Only keys that failed are ever slowed: a key with no failures is
 * never refused, whatever others do.
 *
 * Kept in this process's memory: a restart forgets counts, but an attacker cannot cause one. The verification page's
 * limits, which several instances must count together, use CountedBackoff over a FailureCounts port instead.
 */
export class FailureBackoff {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: BackoffLimits,
    private readonly now: () => number,
  ) {}

  /** Seconds this key must still wait before its next attempt is checked; 0 when it may go ahead. */
  wait(key: string): number {
    const now = this.now();
    return backoffWait(this.limits, this.recent(key, now), now);
  }

  fail(key: string): void {
    const hits = this.recent(key, this.now());
    hits.push(this.now());
    this.failures.set(key, hits);
  }

  /** A success ends the key's slow-down: the person got it right. */
  clear(key: string): void {
    this.failures.delete(key);
  }

  /** Forgets keys whose failures have all aged out. */
  sweep(): void {
    const cutoff = this.now() - this.limits.window;
    for (const [key, hits] of this.failures) if ((hits[hits.length - 1] ?? 0) <= cutoff) this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const hits = this.failures.get(key);
    if (!hits) return [];
    const live = hits.filter((t) => t > now - this.limits.window);
    if (live.length === 0) this.failures.delete(key);
    return live;
  }
}

/**
 * The wait the rule above imposes on a key with these failure times (oldest first, all within the window):
 * 0 up to `freeFailures`, then baseDelay·2^(n−free−1) seconds after the last (at most maxDelay), and at
 * `maxFailures` until the oldest counted failure ages out.
 */
export function backoffWait(limits: BackoffLimits, hits: readonly number[], now: number): number {
  const n = hits.length;
  const last = hits[n - 1];
  if (last === undefined) return 0;
  if (n >= limits.maxFailures) return Math.max(1, (hits[n - limits.maxFailures] ?? now) + limits.window - now);
  if (n <= limits.freeFailures) return 0;
  const delay = Math.min(limits.maxDelay, limits.baseDelay * 2 ** (n - limits.freeFailures - 1));
  return Math.max(0, Math.ceil(last + delay - now));
}
