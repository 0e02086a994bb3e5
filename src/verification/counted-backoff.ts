import { backoffWait, type BackoffLimits } from './failure-backoff.js';
import type { FailureCounts } from './failure-counts.js';

/**
 * FailureBackoff's rule (growing delays per key, only keys that failed are slowed) over failures counted in a
 * FailureCounts port: in memory for one process, in the database when several instances must count as one, so
 * guesses spread over the instances meet one limit.
 *
 * The check and the count are separate steps: guesses of one key sent at the same instant may all pass the check
 * before any is counted, as with the in-memory counts (the code lookup between them is asynchronous too). Each of
 * them is counted, so the next ones wait the longer.
 */
export class CountedBackoff {
  constructor(
    private readonly limits: BackoffLimits,
    private readonly counts: FailureCounts,
    private readonly now: () => number,
  ) {}

  /** Seconds this key must still wait before its next attempt is checked; 0 when it may go ahead. */
  async wait(key: string): Promise<number> {
    const now = this.now();
    return backoffWait(this.limits, await this.counts.recent(key, now - this.limits.window), now);
  }

  async fail(key: string): Promise<void> {
    await this.counts.add(key, this.now());
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
