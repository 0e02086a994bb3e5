import { backoffWait, type BackoffLimits } from './failure-backoff.js';
import type { FailureCounts } from './failure-counts.js';

/** An attempt counted as a failure before it was checked. */
export interface CountedAttempt {
  /** Seconds the key must still wait: 0 means check the attempt. */
  readonly wait: number;
  /** Takes the attempt back: it was refused, or it succeeded, so it was no failure. */
  withdraw(): Promise<void>;
  /** The attempt was checked and failed: it stays counted, and the key's delay runs from now. */
  fail(): Promise<void>;
}

/**
 * FailureBackoff's rule (growing delays per key, only keys that failed are slowed) over failures counted in a
 * FailureCounts port: in memory for one process, in the database when several instances must count as one, so
 * guesses spread over the instances meet one limit.
 *
 * Each attempt is counted first and judged second, on the failures counted before it and beside it. Checking then
 * counting would let a burst of attempts sent at one instant (to one instance or several) all pass the check
 * before any was counted. This way attempts in flight count against each other: of a burst, no more are checked
 * than the limit allows one by one (a burst may see more of itself refused than strictly needed, never fewer).
 * An attempt that was refused, or that succeeded, is withdrawn: it was not a failure.
 */
export class CountedBackoff {
  constructor(
    private readonly limits: BackoffLimits,
    private readonly counts: FailureCounts,
    private readonly now: () => number,
  ) {}

  /** Counts an attempt of this key and says how long it must still wait. */
  async attempt(key: string): Promise<CountedAttempt> {
    const now = this.now();
    const id = await this.counts.add(key, now);
    const others = (await this.counts.recent(key, now - this.limits.window)).filter((h) => h.id !== id).map((h) => h.at);
    return {
      wait: backoffWait(this.limits, others, now),
      withdraw: () => this.counts.remove(key, id),
      // A slow check (a busy password queue) that ran into the next second would otherwise shorten the delay.
      fail: async () => {
        const end = this.now();
        if (end !== now) await this.counts.retime(key, id, end);
      },
    };
  }

  /** A success ends the key's slow-down: the person got it right. */
  async clear(key: string): Promise<void> {
    await this.counts.clear(key);
  }

  /** Forgets failures that have aged out. */
  async sweep(): Promise<void> {
    await this.counts.sweep(this.now() - this.limits.window);
  }
}
