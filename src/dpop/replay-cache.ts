/**
 * Remembers proof ids (jti) until their proofs could no longer be accepted anyway, so each proof is usable once.
 * One cache serves every request of the process. Memory is bounded by the acceptance window times the request
 * rate; expired entries are swept as new ones arrive.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweepMs = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** Records `key` until `untilMs`; false when it was already recorded (a replay). */
  claim(key: string, untilMs: number): boolean {
    const now = this.nowMs();
    if (now >= this.nextSweepMs) this.sweep(now);
    const expiry = this.seen.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.seen.set(key, untilMs);
    return true;
  }

  private sweep(now: number): void {
    // Map iteration follows insertion order, which is close to expiry order; stop at the first live entry.
    for (const [key, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(key);
    }
    this.nextSweepMs = now + 1000;
  }

  get size(): number {
    return this.seen.size;
  }
}
