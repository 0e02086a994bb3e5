// The live-code counts on migration 0010's partial indexes of pending codes: the counts stay exact whatever the
// other codes' statuses (SQLite fast path, the Kysely path on both engines), the indexes hold pending codes only
// (an approval leaves them, a redemption never touches them), every count runs on them (SQLite's planner, asked
// about the statements the code sends), and a data dir with 0002-verif's indexes migrates.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import SqliteDriver from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type CompiledQuery } from 'kysely';
import type { AuditEventInput } from '../../src/audit/event.js';
import type { DeviceAuthorization } from '../../src/device-flow/device-authorization.js';
import { SqlDeviceAuthorizationStore } from '../../src/storage/device-authorizations.js';
import type { Database } from '../../src/storage/schema.js';
import { LIVE_CODE_SQL } from '../../src/storage/sqlite-device-authorizations.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { suiteStorage, testEngines } from '../support/storage-engines.js';
import { FIXTURE_NOW, grantFor, pendingAuthorization } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;
const HERE = { ip: '192.0.2.10', userAgent: 'pending-index-test' };
const THERE = { ip: '198.51.100.7', userAgent: 'pending-index-test' };
const event = (type: AuditEventInput['type']): AuditEventInput => ({ type, at: NOW, data: {} });
const tokensFor = (grantId: string) => ({
  access: { jti: uuidv7(), grantId, issuedAt: NOW, expiresAt: NOW + 600 },
  refresh: { hash: `rt-${uuidv7()}`, grantId, parentHash: null, issuedAt: NOW, expiresAt: NOW + 3600 },
});

const engines = testEngines('pending-index');

for (const [name, makeEngine, skip] of engines) {
  describe(`live-code counts on the pending-code indexes: ${name}`, { skip }, () => {
    const suite = suiteStorage(makeEngine);

    /** Codes in every status, from two addresses and two clients; returns what is pending and live. */
    async function mixedCodes(): Promise<{ here: number; there: number; other: number; all: number }> {
      const store = suite.storage.deviceAuthorizations;
      const made: DeviceAuthorization[] = [];
      const make = async (requester: typeof HERE, overrides: Partial<DeviceAuthorization> = {}) => {
        const a = pendingAuthorization(requester, overrides);
        assert.equal(await store.create(a, [event('device_code.requested')]), true);
        made.push(a);
        return a;
      };
      for (let i = 0; i < 4; i++) await make(HERE);
      for (let i = 0; i < 3; i++) await make(THERE);
      await make(HERE, { clientId: 'other-cli' });
      await make(HERE, { expiresAt: NOW - 1 });
      const approved = await make(HERE);
      const grant = grantFor(approved);
      assert.equal(await store.approve(approved.id, NOW, HERE, grant, [event('device.approved')]), true);
      const redeemed = await make(THERE);
      const redeemedGrant = grantFor(redeemed);
      assert.equal(await store.approve(redeemed.id, NOW, THERE, redeemedGrant, [event('device.approved')]), true);
      assert.equal(await store.redeem(redeemed.id, tokensFor(redeemedGrant.id), 'jkt-1', [event('token.issued')]), true);
      const denied = await make(THERE);
      assert.equal(await store.deny(denied.id, NOW, 'alice', THERE, [event('device.denied')]), true);
      return { here: 5, there: 3, other: 1, all: 8 };
    }

    test('the counts are exact: pending and live only, whatever the other codes', async () => {
      const expected = await mixedCodes();
      // The store the server uses (SQLite: its fast path) and the Kysely store on the same database.
      for (const store of [suite.storage.deviceAuthorizations, new SqlDeviceAuthorizationStore(suite.storage.db)]) {
        assert.equal(await store.countLive(NOW, { requesterIp: HERE.ip }), expected.here, 'by address');
        assert.equal(await store.countLive(NOW, { requesterIp: THERE.ip }), expected.there, 'by the other address');
        assert.equal(await store.countLive(NOW, { requesterIp: HERE.ip, clientId: 'tether-cli' }), expected.here - expected.other);
        assert.equal(await store.countLive(NOW, { requesterIp: '203.0.113.99' }), 0, 'an address with no codes');
        assert.equal(await store.countLive(NOW, { clientId: 'other-cli' }), expected.other, 'by client');
        assert.equal(await store.countLive(NOW), expected.all, 'all');
        assert.equal(await store.countLive(NOW + 301, { requesterIp: HERE.ip }), 0, 'once expired');
      }
    });

    test('a data dir with the indexes of 0002-verif migrates, and counts as before', async () => {
      const before = await new SqlDeviceAuthorizationStore(suite.storage.db).countLive(NOW);
      // Back to the schema before 0010: the full indexes of 0002-verif, 0010 not yet run.
      await sql`drop index device_authorizations_pending_by_ip`.execute(suite.storage.db);
      await sql`drop index device_authorizations_pending_by_client`.execute(suite.storage.db);
      await sql`create index device_authorizations_requester_ip on device_authorizations (requester_ip, status, expires_at)`.execute(suite.storage.db);
      await sql`create index device_authorizations_client_id on device_authorizations (client_id, status, expires_at)`.execute(suite.storage.db);
      await sql`delete from kysely_migration where name = '0010-pending-code-indexes'`.execute(suite.storage.db);
      await suite.reopen();
      const ran = await sql<{ name: string }>`select name from kysely_migration where name = '0010-pending-code-indexes'`.execute(suite.storage.db);
      assert.equal(ran.rows.length, 1);
      assert.equal(await suite.storage.deviceAuthorizations.countLive(NOW), before);
      assert.equal(await suite.storage.deviceAuthorizations.countLive(NOW, { requesterIp: HERE.ip }), 5);
      const names = await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'device_authorizations'`
        .execute(suite.storage.db)
        .then((r) => r.rows.map((row) => row.name))
        .catch(async () =>
          (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'device_authorizations'`.execute(suite.storage.db)).rows.map((row) => row.name),
        );
      assert.ok(names.includes('device_authorizations_pending_by_ip') && names.includes('device_authorizations_pending_by_client'), names.join(', '));
      assert.ok(!names.includes('device_authorizations_requester_ip') && !names.includes('device_authorizations_client_id'), names.join(', '));
    });

    test('the indexes hold pending codes only: an approval leaves them, a redemption does not touch them', { skip: name !== 'sqlite' && 'dbstat is SQLite’s' }, async () => {
      const cells = async (index: string) =>
        Number((await sql<{ cells: number }>`select coalesce(sum(ncell), 0) as cells from dbstat where name = ${index} and pagetype = 'leaf'`.execute(suite.storage.db)).rows[0]!.cells);
      const pending = async () =>
        Number((await sql<{ n: number }>`select count(*) as n from device_authorizations where status = 'pending'`.execute(suite.storage.db)).rows[0]!.n);
      const store = suite.storage.deviceAuthorizations;
      const a = pendingAuthorization(HERE);
      await store.create(a, [event('device_code.requested')]);
      const start = await pending();
      assert.equal(await cells('device_authorizations_pending_by_ip'), start);
      assert.equal(await cells('device_authorizations_pending_by_client'), start);
      const grant = grantFor(a);
      await store.approve(a.id, NOW, HERE, grant, [event('device.approved')]);
      assert.equal(await cells('device_authorizations_pending_by_ip'), start - 1, 'the approved code left the index');
      await store.redeem(a.id, tokensFor(grant.id), 'jkt-2', [event('token.issued')]);
      assert.equal(await cells('device_authorizations_pending_by_ip'), start - 1);
      assert.equal(await cells('device_authorizations_pending_by_client'), start - 1);
    });

    test('every count runs on a pending-code index (SQLite: the statements the code sends)', { skip: name !== 'sqlite' && 'SQLite only' }, async () => {
      const raw = new SqliteDriver(join(suite.engine.dataDir, 'tether.sqlite'));
      const plan = (text: string, values: unknown[]) =>
        (raw.prepare(`explain query plan ${text}`).all(...values) as { detail: string }[]).map((r) => r.detail).join(' | ');
      // The Kysely queries as SqlDeviceAuthorizationStore sends them, captured from a second connection that logs them.
      const statements: CompiledQuery[] = [];
      const watched = new Kysely<Database>({
        dialect: new SqliteDialect({ database: raw }),
        log: (e) => void (e.level === 'query' && statements.push(e.query)),
      });
      try {
        const store = new SqlDeviceAuthorizationStore(watched);
        await store.countLive(NOW, { requesterIp: HERE.ip });
        await store.countLive(NOW, { clientId: 'tether-cli' });
        const [byIp, byClient] = statements;
        assert.match(plan(byIp!.sql, [...byIp!.parameters]), /USING COVERING INDEX device_authorizations_pending_by_ip /);
        assert.match(plan(byClient!.sql, [...byClient!.parameters]), /USING COVERING INDEX device_authorizations_pending_by_client /);
        // The fast path's prepared statements (storage/sqlite-device-authorizations.ts).
        assert.match(plan(LIVE_CODE_SQL.byIp, [HERE.ip, NOW]), /USING COVERING INDEX device_authorizations_pending_by_ip /);
        assert.match(plan(LIVE_CODE_SQL.byClient, ['tether-cli', NOW]), /USING COVERING INDEX device_authorizations_pending_by_client /);
        assert.match(plan(LIVE_CODE_SQL.latestExpiryByIp, []), /SCAN device_authorizations USING COVERING INDEX device_authorizations_pending_by_ip/);
      } finally {
        await watched.destroy();
      }
    });
  });
}
