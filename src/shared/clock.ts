/**
 * The one time source, injected so tests can move time without waiting. `now()` is seconds since the epoch (what
 * JWTs, grants and audit events carry); `nowMs()` is the same instant in milliseconds, for the few windows finer
 * than a second (poll pacing forgives a quarter second of network jitter; revocation cuts are exact to the
 * millisecond).
 */
export interface Clock {
  now(): number;
  nowMs(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000), nowMs: () => Date.now() };

/** A clock tests can set and advance, by whole or fractional seconds, or by milliseconds. */
export class FakeClock implements Clock {
  private ms: number;
  constructor(seconds = 1_800_000_000) {
    this.ms = seconds * 1000;
  }
  now(): number {
    return Math.floor(this.ms / 1000);
  }
  nowMs(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += Math.round(seconds * 1000);
  }
  advanceMs(ms: number): void {
    this.ms += ms;
  }
}

/** The clock's time in milliseconds. */
export function millisOf(clock: Clock): number {
  return clock.nowMs();
}

const lastStamp = new WeakMap<Clock, number>();

/**
 * A millisecond time that is strictly later than every earlier stamp of the same clock in this process. Token
 * issuance and revocation statements both take theirs from here, so "issued before the revocation" has exactly
 * one answer even for two events in the same millisecond: a stamp never equals another.
 */
export function stampMs(clock: Clock): number {
  const next = Math.max(millisOf(clock), (lastStamp.get(clock) ?? -Infinity) + 1);
  lastStamp.set(clock, next);
  return next;
}
