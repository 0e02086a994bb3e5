/** Time source, injected so tests can move time without waiting. Seconds since the epoch. */
export interface Clock {
  now(): number;
  /** Milliseconds since the epoch, where the clock knows them; {@link millisOf} falls back to `now() * 1000`. */
  nowMs?(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000), nowMs: () => Date.now() };

/** A clock tests can set and advance, to the millisecond. */
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
    this.ms += seconds * 1000;
  }
  advanceMs(ms: number): void {
    this.ms += ms;
  }
}

/** The clock's time in milliseconds. */
export function millisOf(clock: Clock): number {
  return clock.nowMs?.() ?? clock.now() * 1000;
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
