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
    // The new table is the stored definition less that one UNIQUE, and every index of the old table but the
    // automatic (constraint) ones is made again, both read rather than listed: a column or index another branch's
    // migration added goes along. Index texts name the table, which has its old name again after the rename.
    const table = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'device_authorizations'`.execute(tx);
    const indexes = await sql<{ sql: string }>`select sql from sqlite_master
      where type = 'index' and tbl_name = 'device_authorizations' and sql is not null`.execute(tx);
    const definition = table.rows[0]?.sql ?? '';
    const unique = /("device_code_hash"|\bdevice_code_hash\b)(\s+text\s+not\s+null)\s+unique\b/i;
    if (!unique.test(definition)) {
      // Already rebuilt (a rerun after a crash past the commit, before the migration was recorded): nothing to do.
      if (/device_code_hash/i.test(definition)) return;
      throw new Error(`device_authorizations has an unexpected definition: ${definition}`);
    }
    const rebuilt = definition
      .replace(unique, '$1$2')
      .replace(/^CREATE TABLE\s+("device_authorizations"|device_authorizations)/i, 'CREATE TABLE "device_authorizations_rebuilt"');
    await sql`drop table if exists device_authorizations_rebuilt`.execute(tx);
    await sql.raw(rebuilt).execute(tx);
    // Same definition, same column order.
    await sql`insert into device_authorizations_rebuilt select * from device_authorizations`.execute(tx);
    await sql`drop table device_authorizations`.execute(tx);
    await sql`alter table device_authorizations_rebuilt rename to device_authorizations`.execute(tx);
    for (const index of indexes.rows) await sql.raw(index.sql).execute(tx);
  });
}
