// A data dir left by the version before device codes named their row (migrations up to 0007, opaque 43-character
// codes found by their hash): after the upgrade (migration 0008) a login in progress still completes over HTTP, an
// old code already decided still gets its answer, and the hash index is gone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
// kysely 0.28 (Node 20) exports the migrator from its root.
import { Kysely, Migrator, SqliteDialect, sql, type Migration } from 'kysely';
import { hashSecret } from '../../src/shared/crypto.js';
import { MIGRATIONS } from '../../src/storage/migrate.js';
import { assertOAuthError, decide, redeem } from '../support/device-flow.js';
import { startServer, type TestServer } from '../support/in-process.js';

/** The schema as the previous version left it: every migration before 0008. */
const BEFORE_0008: Record<string, Migration> = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0008'));

/** An old-format code as the previous version handed it out: 32 random bytes, base64url, stored as its SHA-256. */
const oldCode = () => randomBytes(32).toString('base64url');

describe('device codes handed out before the upgrade', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-upgrade-'));
  const now = Math.floor(Date.now() / 1000);
  const pending = { code: oldCode(), userCode: 'BCDFGHJKLMNP', id: '0190c0de-0000-7000-8000-000000000001' };
  const denied = { code: oldCode(), userCode: 'BCDFGHJKLMNQ', id: '0190c0de-0000-7000-8000-000000000002' };
  const redeemed = { code: oldCode(), userCode: 'BCDFGHJKLMNR', id: '0190c0de-0000-7000-8000-000000000003' };
  let server: TestServer;

  before(async () => {
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, 'tether.sqlite')) }) });
    const migrated = await new Migrator({ db: old, provider: { getMigrations: async () => BEFORE_0008 } }).migrateToLatest();
    assert.equal(migrated.error, undefined);
    for (const [row, status] of [[pending, 'pending'], [denied, 'denied'], [redeemed, 'redeemed']] as const) {
      await old
        .insertInto('device_authorizations' as never)
        .values({
          id: row.id, device_code_hash: hashSecret(row.code), user_code: row.userCode, client_id: 'tether-cli', scope: 'read',
          resource: 'placeholder', requester_ip: '127.0.0.1', requester_user_agent: 'old-cli', dpop_jkt: null, device_jkt: null,
          environment: null, interval: 5, created_at: now - 60, expires_at: now + 240, status, decided_at: status === 'pending' ? null : now - 30,
        } as never)
        .execute();
    }
    // A column another branch's migration may have added meanwhile: the rebuild keeps it and its values.
    await sql`alter table device_authorizations add column sibling_note text`.execute(old);
    await sql`update device_authorizations set sibling_note = 'kept'`.execute(old);
    await old.destroy();
    server = await startServer({ data_dir: dir });
    // The rows name the test API, whose URI holds the server's port: only known now.
    await server.tether.db.updateTable('device_authorizations').set({ resource: server.api }).execute();
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a pending one is still answered, approved and redeemed once', async () => {
    assertOAuthError(await redeem(server, pending.code), 'authorization_pending');
    await decide(server, pending.userCode);
    const tokens = await redeem(server, pending.code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(typeof tokens.body['access_token'], 'string');
    assertOAuthError(await redeem(server, pending.code), 'invalid_grant');
  });

  it('a denied one still hears access_denied; one whose request had ended, and any other old-format code, are unknown', async () => {
    assertOAuthError(await redeem(server, denied.code), 'access_denied');
    assertOAuthError(await redeem(server, redeemed.code), 'invalid_grant');
    assertOAuthError(await redeem(server, oldCode()), 'invalid_grant');
  });

  it('the table lost its index by device-code hash and kept the others', async () => {
    const indexes = await server.tether.db
      .selectFrom('sqlite_master' as never)
      .select(['name', 'sql'] as never)
      .where('tbl_name' as never, '=', 'device_authorizations' as never)
      .where('type' as never, '=', 'index' as never)
      .execute() as { name: string; sql: string | null }[];
    const names = indexes.map((i) => i.name).sort();
    // The live-code caps' indexes, as migration 0010 left them (partial, of pending codes).
    assert.ok(names.includes('device_authorizations_pending_by_ip') && names.includes('device_authorizations_pending_by_client'), names.join());
    assert.ok(names.includes('device_authorizations_expires_at'), names.join());
    // One automatic index each for the primary key and the user code; none for the hash.
    assert.equal(indexes.filter((i) => i.sql === null).length, 2, names.join());
    const columns = await server.tether.db.selectFrom('device_authorizations').selectAll().where('id', '=', redeemed.id).executeTakeFirst();
    assert.equal(columns?.status, 'redeemed', 'every row came through the rebuild');
    const sibling = await sql<{ note: string }>`select sibling_note as note from device_authorizations where id = ${redeemed.id}`.execute(server.tether.db);
    assert.equal(sibling.rows[0]?.note, 'kept', 'a column another migration added survives the rebuild');
  });
});
