import { sql, type Kysely } from 'kysely';
import { engineOf } from '../dialect.js';

/**
 * Device codes name their row (`<id>.<secret>`, device-flow/device-code.ts): the token endpoint and the abandon
 * route find the request by primary key and compare the stored hash in constant time, so the unique index on
 * `device_code_hash` goes. It was random-keyed: every device request dirtied a page of it in the WAL.
 *
 * Codes handed out before this migration carry no row id. Those that can still get an answer a device waits for
 * (pending, approved, denied) keep their hash in `legacy_device_codes`, a small table written only here and
 * pruned as its codes expire (`deleteExpired`), so a login in progress across the upgrade still completes. An
 * old code whose request had already ended (redeemed, abandoned) or that expires is answered as unknown
 * (`invalid_grant`), as a code whose row was swept always was.
 *
 * Idempotent: SQLite runs migrations outside a transaction, so a crash between its steps reruns it from the start.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table if not exists legacy_device_codes (
    device_code_hash text primary key,
    device_authorization_id text not null
  )`.execute(db);
  // `on conflict do nothing`: a rerun after a crash finds the hashes already copied (both engines know it).
  await sql`insert into legacy_device_codes (device_code_hash, device_authorization_id)
    select device_code_hash, id from device_authorizations where status in ('pending', 'approved', 'denied')
    on conflict do nothing`.execute(db);

  if (engineOf(db) === 'postgres') {
    // PostgreSQL names a column's unique constraint <table>_<column>_key.
    await sql`alter table device_authorizations drop constraint if exists device_authorizations_device_code_hash_key`.execute(db);
    return;
  }
  // SQLite cannot drop a UNIQUE constraint: the table is rebuilt (https://www.sqlite.org/lang_altertable.html §7),
  // in one transaction, so a crash leaves the old table or the new one, never neither.
  await db.transaction().execute(async (tx) => {
    // Every index of the old table but the automatic (constraint) ones, read rather than listed, so one another
    // branch adds goes along: their text names the table, which has its old name again after the rename.
    const indexes = await sql<{ sql: string }>`select sql from sqlite_master
      where type = 'index' and tbl_name = 'device_authorizations' and sql is not null`.execute(tx);
    await sql`drop table if exists device_authorizations_rebuilt`.execute(tx);
    await sql`create table device_authorizations_rebuilt (
      id text primary key,
      device_code_hash text not null,
      user_code text not null unique,
      client_id text not null,
      scope text not null,
      resource text not null,
      requester_ip text not null,
      requester_user_agent text not null,
      dpop_jkt text,
      environment text,
      interval integer not null,
      created_at bigint not null,
      expires_at bigint not null,
      status text not null,
      decided_at bigint,
      approver_user_id text,
      approver_ip text,
      approver_user_agent text,
      grant_id text,
      device_jkt text
    )`.execute(tx);
    const columns = sql.raw(COLUMNS.join(', '));
    await sql`insert into device_authorizations_rebuilt (${columns}) select ${columns} from device_authorizations`.execute(tx);
    await sql`drop table device_authorizations`.execute(tx);
    await sql`alter table device_authorizations_rebuilt rename to device_authorizations`.execute(tx);
    for (const index of indexes.rows) await sql.raw(index.sql).execute(tx);
  });
}

const COLUMNS = [
  'id',
  'device_code_hash',
  'user_code',
  'client_id',
  'scope',
  'resource',
  'requester_ip',
  'requester_user_agent',
  'dpop_jkt',
  'environment',
  'interval',
  'created_at',
  'expires_at',
  'status',
  'decided_at',
  'approver_user_id',
  'approver_ip',
  'approver_user_agent',
  'grant_id',
  'device_jkt',
];
