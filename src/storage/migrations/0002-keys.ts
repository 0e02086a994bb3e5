import type { Kysely } from 'kysely';

/**
 * Key rotation and exact revocation: when a signing key starts signing (it is published from `created_at`), and
 * the millisecond a revocation statement cuts at. Dialect-neutral, like 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signing_keys').addColumn('activates_at', 'bigint').execute();
  // Null for statements from before: they cut at the end of their second (issued_before * 1000 + 999).
  await db.schema.alterTable('revocations').addColumn('issued_before_ms', 'bigint').execute();
}
