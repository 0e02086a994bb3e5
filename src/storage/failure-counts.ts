import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CountedFailure, FailureCounts, FailureScope } from '../verification/failure-counts.js';
import type { Database } from './schema.js';

/**
 * The failures of one verification-page limit, counted in a table every instance on the database reads and
 * writes: a session, account or address guessing through several instances meets one limit, not one per instance.
 * Keys are stored as SHA-256 hashes: a username field may hold a mistyped password, and nothing here needs it back.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.1
 */
export class SqlFailureCounts implements FailureCounts {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly scope: FailureScope,
  ) {}

  async recent(key: string, since: number): Promise<CountedFailure[]> {
    const rows = await this.db
      .selectFrom('failure_counts')
      .select(['id', 'at'])
      .where('scope', '=', this.scope)
      .where('key', '=', hashKey(key))
      .where('at', '>', since)
      .orderBy('at')
      .execute();
    // pg returns bigint as a string.
    return rows.map((r) => ({ id: r.id, at: Number(r.at) }));
  }

  async add(key: string, at: number): Promise<string> {
    const id = randomUUID();
    await this.db.insertInto('failure_counts').values({ id, scope: this.scope, key: hashKey(key), at }).execute();
    return id;
  }

  async remove(_key: string, id: string): Promise<void> {
    await this.db.deleteFrom('failure_counts').where('id', '=', id).execute();
  }

  async retime(_key: string, id: string, at: number): Promise<void> {
    await this.db.updateTable('failure_counts').set({ at }).where('id', '=', id).execute();
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('failure_counts').where('scope', '=', this.scope).where('key', '=', hashKey(key)).execute();
  }

  async sweep(before: number): Promise<void> {
    await this.db.deleteFrom('failure_counts').where('scope', '=', this.scope).where('at', '<=', before).execute();
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
