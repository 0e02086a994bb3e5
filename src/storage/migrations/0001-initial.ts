import type { Kysely } from 'kysely';
import { sequenceType } from '../dialect.js';

// Dialect-neutral on purpose: only types and constraints that SQLite and PostgreSQL both understand.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();

  await db.schema
    .createTable('device_authorizations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_code', 'text', (c) => c.notNull().unique())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('requester_ip', 'text', (c) => c.notNull())
    .addColumn('requester_user_agent', 'text', (c) => c.notNull())
    .addColumn('dpop_jkt', 'text')
    // What the device declared about where it runs (tether_environment), for policy at the later steps.
    .addColumn('environment', 'text')
    .addColumn('interval', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addColumn('approver_user_id', 'text')
    .addColumn('approver_ip', 'text')
    .addColumn('approver_user_agent', 'text')
    .addColumn('grant_id', 'text')
    .execute();
  await db.schema
    .createIndex('device_authorizations_expires_at')
    .on('device_authorizations')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('device_authorization_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('dpop_jkt', 'text')
    .addColumn('environment', 'text')
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('idle_ttl', 'integer', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'text')
    .addColumn('revoked_reason', 'text')
    .execute();
  await db.schema.createIndex('grants_user_id').on('grants').column('user_id').execute();
  await db.schema.createIndex('grants_dpop_jkt').on('grants').column('dpop_jkt').execute();
  await db.schema.createIndex('grants_client_id').on('grants').column('client_id').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('parent_hash', 'text')
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('refresh_tokens_grant_id').on('refresh_tokens').column('grant_id').execute();

  await db.schema
    .createTable('revocations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull().unique())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text')
    .addColumn('issued_before', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('grants_revoked', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('revocations_created_at').on('revocations').column('created_at').execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_tokens_grant_id').on('access_tokens').column('grant_id').execute();

  // The audit log: append-only, hash-chained. audit_head holds the chain's end; updating that one row inside
  // each appending transaction serializes appends on every database.
  await db.schema
    .createTable('audit_events')
    // SQLite: "integer primary key", the rowid itself; PostgreSQL: bigint (see sequenceType).
    .addColumn('seq', sequenceType(db), (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('client_id', 'text')
    .addColumn('grant_id', 'text')
    .addColumn('device_authorization_id', 'text')
    .addColumn('jti', 'text')
    .addColumn('jkt', 'text')
    .addColumn('parent_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  // Only what provenance traces look up; every index is paid on each of the many appends, and filters by user,
  // client or time are occasional admin queries that may scan.
  for (const column of ['grant_id', 'device_authorization_id', 'jti'] as const) {
    await db.schema.createIndex(`audit_events_${column}`).on('audit_events').column(column).execute();
  }
  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('browser_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text')
    .addColumn('auth_time', 'bigint')
    .addColumn('auth_method', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // Device keys (DPoP thumbprints) enrolled for trust; policy sees an approved key's class.
  await db.schema
    .createTable('devices')
    .addColumn('jkt', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('requested_class', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('class', 'text')
    .addColumn('trust', 'text')
    .addColumn('decided_by', 'text')
    .addColumn('enrolled_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .execute();
  await db.schema.createIndex('devices_status').on('devices').column('status').execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
