import type { Kysely } from 'kysely';

// The failure counts of the verification page's limits (code entry per account, session and address; sign-in per
// account and address), shared by every instance on one database. One row per failure. 0002-shared-state's
// code_entry_failures held the old per-IP/per-session limiter's rows; it is left in place (unused) so an instance
// of the older version still running during a rolling upgrade keeps working.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('failure_counts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  // Each check reads one key's recent failures; the sweep deletes old ones of one limit.
  await db.schema.createIndex('failure_counts_key').on('failure_counts').columns(['scope', 'key', 'at']).execute();
  await db.schema.createIndex('failure_counts_at').on('failure_counts').columns(['scope', 'at']).execute();
}
