/** Time source, injected so tests can move time without waiting. Seconds since the epoch. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) };

/** A clock tests can set and advance. */
export class FakeClock implements Clock {
  constructor(private current = 1_800_000_000) {}
  now(): number {
    return this.current;
  }
  advance(seconds: number): void {
    this.current += seconds;
  }
}
