import { systemClock, type Clock } from '../shared/clock.js';

/**
 * Remembers proof ids (jti) until their proofs could no longer be accepted anyway, so each proof is usable once.
 * One cache serves every request of the process. Memory is bounded by the acceptance window times the request
 * rate; expired entries are swept as new ones arrive. It lives in memory: what it cannot know after a restart,
 * the server covers with a persisted mark (see `ReplayMark`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  /** `clock` in seconds, the injected clock of the server or the guard's. */
  constructor(private readonly clock: Clock = systemClock) {}

  /** Records `key` until `until` (seconds); false when it was already recorded (a replay). */
  claim(key: string, until: number): boolean {
    const now = this.clock.now();
    if (now >= this.nextSweep) this.sweep(now);
    const expiry = this.seen.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.seen.set(key, until);
    return true;
  }

  private sweep(now: number): void {
    // Map iteration follows insertion order, which is close to expiry order; stop at the first live entry.
    for (const [key, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(key);
    }
    this.nextSweep = now + 1;
  }

  get size(): number {
    return this.seen.size;
  }
}
