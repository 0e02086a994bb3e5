// The audit log's lookups on a log that spans several blocks of the grant trace index (migration
// 0009-audit-append-indexes): a refresh still finds its grant's issuance as parent, a grant's trace still lists
// every event of the grant in order, on SQLite (fast path and Kysely path) and PostgreSQL, and an existing data
// dir migrates to the new indexes. On SQLite the planner is asked that each lookup runs on its index, and the
// parent index is shown to hold the parent events only, however many events pile up on a grant.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import SqliteDriver from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type CompiledQuery } from 'kysely';
import { PARENT_EVENT_TYPES, type AuditEventInput } from '../../src/audit/event.js';
import { verifyChain } from '../../src/audit/verify.js';
import { GRANT_BLOCK_EVENTS } from '../../src/storage/audit-grant-blocks.js';
import { SqlAuditCheckpoints, SqlAuditLog } from '../../src/storage/audit-log.js';
import type { Database } from '../../src/storage/schema.js';
import { parentLookupSql } from '../../src/storage/sqlite-audit-append.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { fillAuditChain } from '../support/audit-fill.js';
import { suiteStorage, testEngines } from '../support/storage-engines.js';
import { FIXTURE_NOW } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;
const event = (type: AuditEventInput['type'], fields: Partial<AuditEventInput> = {}): AuditEventInput => ({ type, at: NOW, data: {}, ...fields });

async function allEvents(db: Kysely<Database>) {
  return new SqlAuditCheckpoints(db).allEvents();
}

const engines = testEngines('audit-lookups');

for (const [name, makeEngine, skip] of engines) {
  describe(`audit lookups across index blocks: ${name}`, { skip }, () => {
    const suite = suiteStorage(makeEngine);

    test("a refresh finds its grant's issuance, and the grant's trace lists every event, across blocks", async () => {
      const grant = uuidv7();
      const other = uuidv7();
      await suite.storage.audit.record([
        event('device.approved', { grantId: grant }),
        event('token.issued', { grantId: grant, jti: uuidv7(), parent: { type: 'device.approved', grantId: grant } }),
      ]);
      // 2.5 blocks of introspections, one in nine on our grant: its events lie in every block.
      await fillAuditChain(suite.storage.db, Math.floor(GRANT_BLOCK_EVENTS * 2.5), (i) =>
        event('token.introspected', { grantId: i % 9 === 0 ? grant : other, jti: uuidv7(), data: { i } }),
      );
      await suite.storage.audit.record([event('token.refreshed', { grantId: grant, jti: uuidv7(), parent: { type: 'token.issued', grantId: grant } })]);
      // The Kysely append (PostgreSQL's, and SQLite's outside the fast path) finds it the same way.
      await new SqlAuditLog(suite.storage.db).record([
        event('token.refreshed', { grantId: grant, jti: uuidv7(), parent: { type: 'token.issued', grantId: grant } }),
      ]);

      const everything = await allEvents(suite.storage.db);
      const expected = everything.filter((e) => e.grantId === grant);
      const issued = expected.find((e) => e.type === 'token.issued')!;
      const refreshes = expected.filter((e) => e.type === 'token.refreshed');
      assert.equal(refreshes.length, 2);
      for (const r of refreshes) assert.equal(r.parentId, issued.id, 'a refresh names its grant issuance as parent');
      assert.equal(expected.find((e) => e.type === 'token.issued')!.parentId, expected.find((e) => e.type === 'device.approved')!.id);

      const traced = await suite.storage.audit.query({ grantId: grant, limit: 100_000 });
      assert.deepEqual(traced.map((e) => e.seq), expected.map((e) => e.seq), 'every event of the grant, in order');
      assert.ok(new Set(traced.map((e) => Math.floor(e.seq / GRANT_BLOCK_EVENTS))).size >= 3, 'the grant spans blocks');
      // limit and afterSeq (the export's paging) still cut the same list.
      assert.deepEqual((await suite.storage.audit.query({ grantId: grant, limit: 3 })).map((e) => e.seq), expected.slice(0, 3).map((e) => e.seq));
      const middle = expected[Math.floor(expected.length / 2)]!.seq;
      assert.deepEqual(
        (await suite.storage.audit.query({ grantId: grant, afterSeq: middle })).map((e) => e.seq),
        expected.filter((e) => e.seq > middle).map((e) => e.seq),
      );
      assert.deepEqual(
        (await suite.storage.audit.query({ grantId: grant, type: 'token.refreshed' })).map((e) => e.seq),
        refreshes.map((e) => e.seq),
      );
      assert.equal((await verifyChain(everything, [], async () => true)).ok, true);
    });

    test('a parent written earlier in the same append is found; an absent one is none', async () => {
      const grant = uuidv7();
      const lonely = uuidv7();
      await suite.storage.audit.record([
        event('token.issued', { grantId: grant }),
        event('token.refreshed', { grantId: grant, parent: { type: 'token.issued', grantId: grant } }),
        event('token.refreshed', { grantId: lonely, parent: { type: 'token.issued', grantId: lonely } }),
      ]);
      const [issued, refreshed] = await suite.storage.audit.query({ grantId: grant });
      assert.equal(refreshed!.parentId, issued!.id);
      const [orphan] = await suite.storage.audit.query({ grantId: lonely });
      assert.equal(orphan!.parentId, null);
    });

    test('an existing data dir (indexes of migration 0007) migrates, and its events are found as before', async () => {
      const grant = uuidv7();
      await suite.storage.audit.record([event('device.approved', { grantId: grant }), event('token.issued', { grantId: grant })]);
      // Back to the schema before 0009: its indexes gone, 0007's index back, 0009 not yet run.
      await sql`drop index audit_events_parent`.execute(suite.storage.db);
      await sql`drop index audit_events_grant_block`.execute(suite.storage.db);
      await sql`create index audit_events_grant_id_type on audit_events (grant_id, type) where grant_id is not null`.execute(suite.storage.db);
      await sql`delete from kysely_migration where name = '0009-audit-append-indexes'`.execute(suite.storage.db);
      await new SqlAuditLog(suite.storage.db).record([event('token.introspected', { grantId: grant })]);
      await suite.reopen();
      const ran = await sql<{ name: string }>`select name from kysely_migration where name = '0009-audit-append-indexes'`.execute(suite.storage.db);
      assert.equal(ran.rows.length, 1);
      await suite.storage.audit.record([event('token.refreshed', { grantId: grant, parent: { type: 'token.issued', grantId: grant } })]);
      const traced = await suite.storage.audit.query({ grantId: grant });
      assert.deepEqual(traced.map((e) => e.type), ['device.approved', 'token.issued', 'token.introspected', 'token.refreshed']);
      assert.equal(traced[3]!.parentId, traced[1]!.id);
      assert.equal((await verifyChain(await allEvents(suite.storage.db), [], async () => true)).ok, true);
    });

    test('every lookup runs on its index (SQLite: the statements the code sends)', { skip: name !== 'sqlite' && 'SQLite only' }, async () => {
      const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v)}'`);
      const plan = async (text: string, values: unknown[]) => {
        const query = sql.raw(`explain query plan ${text.replace(/\?/g, () => literal(values.shift()))}`);
        return (await query.execute(suite.storage.db)).rows.map((r) => String((r as { detail: unknown }).detail)).join(' | ');
      };
      for (const type of PARENT_EVENT_TYPES) {
        // As the code names its parents: a device request by its device authorization, the others by grant.
        const fields = type === 'device_code.requested' ? (['deviceAuthorizationId'] as const) : (['grantId'] as const);
        const detail = await plan(parentLookupSql(type, fields), ['x']);
        const index = type === 'device_code.requested' ? 'audit_events_device_authorization_id' : 'audit_events_parent';
        assert.match(detail, new RegExp(`SEARCH audit_events USING INDEX ${index} `), `${type}: ${detail}`);
      }
      // The Kysely queries as SqlAuditLog sends them, captured from a second connection that logs them.
      const statements: CompiledQuery[] = [];
      const raw = new SqliteDriver(join(suite.engine.dataDir, 'tether.sqlite'));
      const watched = new Kysely<Database>({
        dialect: new SqliteDialect({ database: raw }),
        log: (e) => void (e.level === 'query' && statements.push(e.query)),
      });
      try {
        const grant = uuidv7();
        await new SqlAuditLog(watched).record([event('token.refreshed', { grantId: grant, parent: { type: 'token.issued', grantId: grant } })]);
        await new SqlAuditLog(watched).query({ grantId: grant });
      } finally {
        await watched.destroy();
      }
      const parentQuery = statements.find((q) => /^select "id" from "audit_events"/.test(q.sql))!;
      assert.match(await plan(parentQuery.sql, [...parentQuery.parameters]), /SEARCH audit_events USING INDEX audit_events_parent /);
      const grantQuery = statements.find((q) => /^select \* from "audit_events"/.test(q.sql))!;
      assert.match(await plan(grantQuery.sql, [...grantQuery.parameters]), /SEARCH audit_events USING INDEX audit_events_grant_block /);
    });

    test('every lookup can run on its index (PostgreSQL: the same shapes, sequential scans priced out)', { skip: name !== 'postgres' && 'PostgreSQL only' }, async () => {
      // A small table is scanned whatever the indexes; with scans priced out the plan shows which index can serve.
      const plan = (text: string) =>
        suite.storage.db.transaction().execute(async (tx) => {
          await sql`set local enable_seqscan = off`.execute(tx);
          const rows = (await sql.raw(`explain ${text}`).execute(tx)).rows as Record<string, unknown>[];
          return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
        });
      for (const type of ['device.approved', 'token.issued', 'workload.created'] as const) {
        const text = parentLookupSql(type, ['grantId']).replace('?', `'x'`);
        assert.match(await plan(text), /audit_events_parent/, type);
      }
      assert.match(await plan(`select * from audit_events where grant_id = 'x' and seq / ${GRANT_BLOCK_EVENTS} in (0, 1, 2) order by seq limit 10000`), /audit_events_grant_block/);
    });

    test('the parent index holds the parent events only: refreshes and introspections never enter it', { skip: name !== 'sqlite' && 'dbstat is SQLite’s' }, async () => {
      const cells = async () =>
        Number(
          (await sql<{ cells: number }>`select coalesce(sum(ncell), 0) as cells from dbstat where name = 'audit_events_parent' and pagetype = 'leaf'`.execute(suite.storage.db))
            .rows[0]!.cells,
        );
      const grant = uuidv7();
      await suite.storage.audit.record([event('device.approved', { grantId: grant }), event('token.issued', { grantId: grant })]);
      const before = await cells();
      for (let i = 0; i < 200; i++) {
        await suite.storage.audit.record([
          event('token.refreshed', { grantId: grant, parent: { type: 'token.issued', grantId: grant } }),
          event('token.introspected', { grantId: grant }),
        ]);
      }
      assert.equal(await cells(), before);
      await suite.storage.audit.record([event('token.issued', { grantId: grant })]);
      assert.equal(await cells(), before + 1);
    });
  });
}
