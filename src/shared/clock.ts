/**
 * The one time source, injected so tests can move time without waiting. `now()` is seconds since the epoch (what
 * JWTs, grants and audit events carry); `nowMs()` is the same instant in milliseconds, for the few windows finer
 * than a second (poll pacing forgives a quarter second of network jitter).
 */
export interface Clock {
  now(): number;
  nowMs(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000), nowMs: () => Date.now() };

/** A clock tests can set and advance, by whole or fractional seconds. */
export class FakeClock implements Clock {
  private currentMs: number;
  constructor(start = 1_800_000_000) {
    this.currentMs = start * 1000;
  }
  now(): number {
    return Math.floor(this.currentMs / 1000);
  }
  nowMs(): number {
    return this.currentMs;
  }
  advance(seconds: number): void {
    this.currentMs += Math.round(seconds * 1000);
  }
}
