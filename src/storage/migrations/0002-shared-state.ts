import type { Kysely } from 'kysely';

// State that several instances on one database must share, or an attacker spreads the work across them: the
// DPoP replay window, poll pacing and failed code entries. (A single SQLite instance keeps these in memory; the
// tables exist on both engines so one migration set serves both.)
export async function up(db: Kysely<unknown>): Promise<void> {
  // A claimed proof id lives until its proof could no longer be accepted anyway, then is swept.
  await db.schema
    .createTable('dpop_jti')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dpop_jti_expires_at').on('dpop_jti').column('expires_at').execute();

  // One row per device code being polled: when it was last polled and the interval in force (RFC 8628 §3.5).
  await db.schema
    .createTable('poll_pacing')
    .addColumn('authorization_id', 'text', (c) => c.primaryKey())
    .addColumn('last_poll_ms', 'bigint', (c) => c.notNull())
    .addColumn('interval', 'integer', (c) => c.notNull())
    .addColumn('slowed', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('poll_pacing_expires_at').on('poll_pacing').column('expires_at').execute();

  // One row per wrong user code entered, for the per-IP, per-session and server-wide limits (RFC 8628 §5.1).
  await db.schema
    .createTable('code_entry_failures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('session_key', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('code_entry_failures_at').on('code_entry_failures').column('at').execute();
  await db.schema.createIndex('code_entry_failures_ip').on('code_entry_failures').columns(['ip', 'at']).execute();
  await db.schema.createIndex('code_entry_failures_session').on('code_entry_failures').columns(['session_key', 'at']).execute();
}
