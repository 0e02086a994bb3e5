import type { Kysely } from 'kysely';

// The replay window shared by every instance on one database: a proof id claimed on one is refused on all.
// Rows live until their proof could no longer be accepted anyway, then are swept.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dpop_jti')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dpop_jti_expires_at').on('dpop_jti').column('expires_at').execute();
}
