import type { RefreshTokenPruning } from './token-store.js';

/**
 * How long after a grant's absolute end its refresh tokens are still kept. Once a grant has ended no token of it
 * can be used, whatever the row says (refresh refuses an ended grant), so the rows only remain to be deleted; a
 * day's margin keeps them across clock skew between instances and for whoever looks right after an incident.
 */
export const ENDED_GRANT_RETENTION_S = 86_400;

/** Grants passed per step: at most a few thousand rows deleted in one short transaction. */
const GRANTS_PER_STEP = 100;
/** Legacy access-token rows deleted per step. */
const LEGACY_ROWS_PER_STEP = 2_000;
/**
 * Time one sweep may spend before it leaves the rest to the next one. A backlog (a database from before this
 * existed) is worked off a second a minute, and the sweep yields to the event loop between steps, so requests keep
 * flowing.
 */
const SWEEP_BUDGET_MS = 1_000;

export interface RetentionSweep {
  grants: number;
  refreshTokens: number;
  legacyAccessTokens: number;
}

/**
 * Deletes the refresh tokens of grants that ended more than {@link ENDED_GRANT_RETENTION_S} ago, and the access
 * token rows an earlier version wrote once they have expired. Rotation keeps every retired token while its grant
 * lives (presenting one revokes the grant, RFC 9700 §4.14.2), so without this the table grew by one row per
 * refresh for ever, and every refresh's lookup with it.
 */
export async function sweepEndedGrantTokens(store: RefreshTokenPruning, now: number, budgetMs = SWEEP_BUDGET_MS): Promise<RetentionSweep> {
  const started = performance.now();
  const within = () => performance.now() - started < budgetMs;
  const done: RetentionSweep = { grants: 0, refreshTokens: 0, legacyAccessTokens: 0 };
  const endedBefore = now - ENDED_GRANT_RETENTION_S;
  for (;;) {
    const step = await store.pruneEndedGrants(endedBefore, GRANTS_PER_STEP);
    done.grants += step.grants;
    done.refreshTokens += step.refreshTokens;
    if (!step.more || !within()) break;
    await yieldToRequests();
  }
  while (within()) {
    const deleted = await store.pruneLegacyAccessTokens(now, LEGACY_ROWS_PER_STEP);
    done.legacyAccessTokens += deleted;
    if (deleted < LEGACY_ROWS_PER_STEP) break;
    await yieldToRequests();
  }
  return done;
}

function yieldToRequests(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
