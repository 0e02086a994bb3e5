import { InvalidDpopProof, SlowDown } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';
import type { PollPacing, PollWitness } from './poll-pacing.js';

/** Slack for network jitter: a client that polls on its interval must never be punished for a late packet. */
export const JITTER_MS = 250;
/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for that and all later requests. */
export const SLOW_DOWN_STEP = 5;

interface PollState {
  lastPollMs: number;
  interval: number;
  expiresAtMs: number;
  /** The last poll's witness while its signature is unchecked: checked only if a poll comes too soon after it. */
  unproven: PollWitness | undefined;
}

/**
 * Enforces the polling interval per device code. Kept in memory: pacing state is not worth a disk write per poll,
 * and losing it in a restart only forgives a client once. Entries leave when their code expires.
 *
 * A bound code's poll may come with a witness instead of a checked signature. A poll on time is answered on the
 * strength of its header (the key it names is the bound one): that answer is authorization_pending whoever signed,
 * so its signature is kept unchecked. Only a poll too soon makes pacing depend on who sent which poll; then both
 * signatures are checked, this poll's (forged: invalid_dpop_proof, nothing recorded) and the previous poll's
 * (forged: it never counted, so this poll is on time). A code thief who names the device's key therefore cannot
 * make the device slow down, and the device pays one signature check per poll only when it polls too soon.
 * See docs/architecture.md, "A pending poll's proof".
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export class PollPacer implements PollPacing {
  readonly defersSignatures = true;
  private readonly polls = new Map<string, PollState>();

  constructor(private readonly clock: Clock) {}

  /** Records a poll; throws SlowDown (and lengthens the interval) when it came too soon after the last one. */
  poll(authorizationId: string, interval: number, expiresAt: number, witness?: PollWitness): void {
    const now = this.clock.nowMs();
    const state = this.polls.get(authorizationId);
    if (!state) {
      this.polls.set(authorizationId, { lastPollMs: now, interval, expiresAtMs: expiresAt * 1000, unproven: witness });
      return;
    }
    const tooSoon = now - state.lastPollMs + JITTER_MS < state.interval * 1000;
    if (!tooSoon) {
      state.lastPollMs = now;
      state.unproven = witness;
      return;
    }
    // Synchronous from here to the end: no other poll of this code can run between the checks and the update.
    if (witness && !witness.signatureHolds()) throw new InvalidDpopProof('The proof signature is invalid.');
    const previous = state.unproven;
    state.lastPollMs = now;
    state.unproven = undefined;
    // The poll this one came too soon after was not the device's: it does not count, so this one is on time.
    if (previous && !previous.signatureHolds()) return;
    state.interval += SLOW_DOWN_STEP;
    throw new SlowDown(`Poll at most every ${state.interval} seconds.`);
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
