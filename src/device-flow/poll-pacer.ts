import { SlowDown } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';

/** Slack for network jitter: a client that polls on its interval must never be punished for a late packet. */
export const JITTER_MS = 250;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for that and all later requests. */
export const SLOW_DOWN_STEP = 5;

interface PollState {
  lastPollMs: number;
  interval: number;
  expiresAtMs: number;
}

/**
 * Enforces the polling interval per device code. Kept in memory: pacing state is not worth a disk write per poll,
 * and losing it in a restart only forgives a client once. Entries leave when their code expires.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export class PollPacer {
  private readonly polls = new Map<string, PollState>();

  constructor(private readonly clock: Clock) {}

  /** Records a poll; throws SlowDown (and lengthens the interval) when it came too soon after the last one. */
  poll(authorizationId: string, interval: number, expiresAt: number): void {
    const now = this.clock.nowMs();
    const state = this.polls.get(authorizationId);
    if (!state) {
      this.polls.set(authorizationId, { lastPollMs: now, interval, expiresAtMs: expiresAt * 1000 });
      return;
    }
    const tooSoon = now - state.lastPollMs + JITTER_MS < state.interval * 1000;
    state.lastPollMs = now;
    if (tooSoon) {
      state.interval += SLOW_DOWN_STEP;
      throw new SlowDown(`Poll at most every ${state.interval} seconds.`);
    }
  }

  /** The interval now in force for a code, including any slow_down increases. */
  intervalFor(authorizationId: string): number | undefined {
    return this.polls.get(authorizationId)?.interval;
  }

  forget(authorizationId: string): void {
    this.polls.delete(authorizationId);
  }

  /** Drops state of codes that have expired. */
  sweep(): void {
    const now = this.clock.nowMs();
    for (const [id, state] of this.polls) if (state.expiresAtMs <= now) this.polls.delete(id);
  }

  get size(): number {
    return this.polls.size;
  }
}
