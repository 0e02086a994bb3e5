import { sql, type Kysely } from 'kysely';
import { JITTER_MS, SLOW_DOWN_STEP } from '../device-flow/poll-pacer.js';
import type { PollPacing } from '../device-flow/poll-pacing.js';
import { SlowDown } from '../oauth/errors.js';
import type { Database } from './schema.js';

/**
 * Poll pacing shared by every instance on one database: the same rule as PollPacer (RFC 8628 §3.5: a poll sooner
 * than the interval gets slow_down and 5 more seconds), counted over all instances, so a client alternating
 * between them is paced as if there were one. One statement records the poll and says whether it came too soon;
 * concurrent polls of one code are ordered by the row's lock.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export class SqlPollPacer implements PollPacing {
  /** A poll's witness would have to be kept for the next poll, which may reach another instance: polls come checked. */
  readonly defersSignatures = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async poll(authorizationId: string, interval: number, expiresAt: number): Promise<void> {
    const now = this.nowMs();
    // SET expressions see the row as it was before this update, on both engines.
    const tooSoon = sql<boolean>`${sql.lit(now)} - poll_pacing.last_poll_ms + ${sql.lit(JITTER_MS)} < poll_pacing.interval * 1000`;
    const row = await this.db
      .insertInto('poll_pacing')
      .values({ authorization_id: authorizationId, last_poll_ms: now, interval, slowed: 0, expires_at: expiresAt * 1000 })
      .onConflict((oc) =>
        oc.column('authorization_id').doUpdateSet({
          last_poll_ms: now,
          interval: sql<number>`case when ${tooSoon} then poll_pacing.interval + ${sql.lit(SLOW_DOWN_STEP)} else poll_pacing.interval end`,
          slowed: sql<number>`case when ${tooSoon} then 1 else 0 end`,
        }),
      )
      .returning(['interval', 'slowed'])
      .executeTakeFirstOrThrow();
    if (Number(row.slowed) === 1) throw new SlowDown(`Poll at most every ${Number(row.interval)} seconds.`);
  }

  async forget(authorizationId: string): Promise<void> {
    await this.db.deleteFrom('poll_pacing').where('authorization_id', '=', authorizationId).execute();
  }

  async sweep(): Promise<number> {
    const result = await this.db.deleteFrom('poll_pacing').where('expires_at', '<=', this.nowMs()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
