import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ReplayCache } from '../dpop/replay-cache.js';
import type { ReplayGuard } from '../dpop/replay-guard.js';
import { systemClock, type Clock } from '../shared/clock.js';
import type { Database } from './schema.js';

/** How often expired claims are deleted at most. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * The DPoP (and client assertion) replay window shared by every instance on one database: a proof id claimed on
 * one instance is refused on all. The claim is one statement, an insert that does nothing when a live claim of
 * the same key exists; the database's unique index decides races between instances, so exactly one claim of a
 * key wins. An expired claim of the key is taken over (the proof would fail its age check anyway).
 *
 * The process's own ReplayCache answers first, so a replay to the same instance costs no round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class SqlReplayStore implements ReplayGuard {
  private readonly local: ReplayCache;
  private nextSweepMs = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock = systemClock,
  ) {
    this.local = new ReplayCache(clock);
  }

  /** `until` in seconds, as the port has it; the table keeps milliseconds. */
  async claim(key: string, until: number): Promise<boolean> {
    if (!this.local.claim(key, until)) return false;
    const untilMs = until * 1000;
    const now = this.clock.nowMs();
    if (now >= this.nextSweepMs) {
      this.nextSweepMs = now + SWEEP_INTERVAL_MS;
      await this.sweep(now);
    }
    const result = await this.db
      .insertInto('dpop_jti')
      .values({ key: hashKey(key), expires_at: untilMs })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ expires_at: untilMs })
          .where('dpop_jti.expires_at', '<=', now),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Deletes claims whose proofs can no longer be accepted; returns how many. */
  async sweep(now: number = this.clock.nowMs()): Promise<number> {
    const result = await this.db.deleteFrom('dpop_jti').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
