import type { Kysely } from 'kysely';

// Workloads (issue 13) and the jti hashes of external tokens and assertions they presented, for replay refusal.
// Dialect-neutral, like 0001.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workloads')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('resources', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('auth_method', 'text', (c) => c.notNull())
    .addColumn('federated_issuer', 'text')
    .addColumn('federated_subject', 'text')
    .addColumn('federated_claims', 'text')
    .addColumn('public_jwk', 'text')
    .addColumn('jkt', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_changed_at', 'bigint', (c) => c.notNull())
    // Tokens issued at or before this are dead (set by suspend, rotate-key, delete, offboarding; not by resume).
    .addColumn('tokens_revoked_before', 'bigint')
    .addColumn('created_grant_id', 'text', (c) => c.notNull())
    .addColumn('created_jkt', 'text')
    .addColumn('created_device_class', 'text', (c) => c.notNull())
    .addColumn('created_client_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('workloads_owner_id').on('workloads').column('owner_id').execute();
  await db.schema.createIndex('workloads_federated').on('workloads').columns(['federated_issuer', 'federated_subject']).execute();

  await db.schema
    .createTable('workload_jtis')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('workload_jtis_expires_at').on('workload_jtis').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workload_jtis').execute();
  await db.schema.dropTable('workloads').execute();
}
