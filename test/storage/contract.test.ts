import { PASSWORD_SIGN_IN } from '../../src/users/user.js';
import { FakeClock } from '../../src/shared/clock.js';
// One contract for every storage engine: the same scenarios run against SQLite (embedded) and PostgreSQL (a
// real server, test/support/postgres.ts), so the stores the server is built on behave alike on both.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Kysely } from 'kysely';
import type { AuditEventInput } from '../../src/audit/event.js';
import { verifyChain } from '../../src/audit/verify.js';
import type { DeviceAuthorization } from '../../src/device-flow/device-authorization.js';
import { findByDeviceCode, generateDeviceCode } from '../../src/device-flow/device-code.js';
import { hashSecret } from '../../src/shared/crypto.js';
import type { Grant } from '../../src/grants/grant.js';
import { SqlAuditCheckpoints, SqlAuditLog } from '../../src/storage/audit-log.js';
import { SqlBrowserSessionStore } from '../../src/storage/browser-sessions.js';
import { SqlDeviceAuthorizationStore } from '../../src/storage/device-authorizations.js';
import { SqlDeviceStore } from '../../src/storage/devices.js';
import { engineOf } from '../../src/storage/dialect.js';
import { SqlGrantStore } from '../../src/storage/grants.js';
import { openStorage, type Storage, type StorageOptions } from '../../src/storage/open.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { SqlReplayStore } from '../../src/storage/replay-store.js';
import { SqlPollPacer } from '../../src/storage/poll-pacing.js';
import { SqlFailureCounts } from '../../src/storage/failure-counts.js';
import { SlowDown } from '../../src/oauth/errors.js';
import type { Database } from '../../src/storage/schema.js';
import { SqlSettings } from '../../src/storage/settings.js';
import { SqlSigningKeyStore } from '../../src/storage/signing-keys.js';
import { SqlTokenStore } from '../../src/storage/tokens.js';
import { SqlWorkloadStore } from '../../src/storage/workloads.js';
import type { Workload } from '../../src/workloads/workload.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../support/postgres.js';
import { FIXTURE_NOW, grantFor, pendingAuthorization } from '../support/storage-fixtures.js';

interface Engine {
  /** The store as the server opens it. */
  open(): Promise<Storage>;
  /**
   * A second, independent connection to the same data (another instance). SQLite is one instance by design (one
   * process owns the file), so there it is the same handle, used concurrently.
   */
  openAnother(): Promise<Kysely<Database>>;
  /** Lets go of what openAnother returned. */
  release(db: Kysely<Database>): Promise<void>;
  cleanup(): Promise<void>;
}

const NOW = FIXTURE_NOW;
const ctx = { ip: '192.0.2.1', userAgent: 'contract-test' };

function sqliteEngine(): Engine {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-contract-'));
  const options: StorageOptions = { engine: 'sqlite', synchronous: 'normal', pool_size: 1 };
  let db: Kysely<Database> | undefined;
  return {
    open: async () => {
      const storage = await openStorage(options, dataDir);
      db = storage.db;
      return storage;
    },
    openAnother: async () => db!,
    release: async () => undefined,
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

let server: TestPostgres | undefined;
async function postgresEngine(): Promise<Engine> {
  server ??= await startPostgres();
  const url = await server.database();
  const options: StorageOptions = { engine: 'postgres', synchronous: 'normal', url_env: 'TETHER_CONTRACT_URL', pool_size: 8 };
  return {
    open: () => openStorage(options, '/nonexistent', { env: { TETHER_CONTRACT_URL: url } }),
    openAnother: async () => (await openPostgres({ url, poolSize: 8 })).db,
    release: (db) => db.destroy(),
    cleanup: async () => undefined,
  };
}

const request = (overrides: Partial<DeviceAuthorization> = {}) => pendingAuthorization(ctx, overrides);

const event = (type: AuditEventInput['type'], data: Record<string, unknown> = {}): AuditEventInput => ({ type, at: NOW, data });

async function approved(storage: Storage, overrides: Partial<Grant> = {}) {
  const a = request();
  assert.equal(await storage.deviceAuthorizations.create(a, [event('device_code.requested')]), true);
  const grant = grantFor(a, overrides);
  assert.equal(await storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [event('device.approved')]), true);
  return { a, grant };
}

const tokensFor = (grantId: string, parentHash: string | null = null) => ({
  access: { jti: uuidv7(), grantId, issuedAt: NOW, expiresAt: NOW + 600 },
  refresh: { hash: `rt-${uuidv7()}`, grantId, parentHash, issuedAt: NOW, expiresAt: NOW + 3600 },
});

async function chainIsIntact(db: Kysely<Database>): Promise<{ ok: boolean; events: number }> {
  const checkpoints = new SqlAuditCheckpoints(db);
  return verifyChain(await checkpoints.allEvents(), [], async () => true);
}

const skipPostgres = postgresSkipReason();
const engines: [string, () => Promise<Engine>, string | false][] = [
  ['sqlite', async () => sqliteEngine(), false],
  ['postgres', postgresEngine, skipPostgres],
];

after(async () => {
  await server?.stop();
});

for (const [name, makeEngine, skip] of engines) {
  describe(`storage contract: ${name}`, { skip }, () => {
    let engine: Engine;
    let storage: Storage;
    before(async () => {
      engine = await makeEngine();
      storage = await engine.open();
    });
    after(async () => {
      await storage?.close();
      await engine?.cleanup();
    });

    test('runs on the engine it was configured for', () => {
      assert.equal(storage.engine, name);
      assert.equal(engineOf(storage.db), name);
      // PostgreSQL gets the dialect-neutral store, SQLite its synchronous fast path; both keep the same contract.
      assert.equal(storage.deviceAuthorizations.constructor === SqlDeviceAuthorizationStore, name === 'postgres');
    });

    test('device authorization: create, pending poll, approve, deny, user-code collision', async () => {
      const store = storage.deviceAuthorizations;
      const id = uuidv7();
      const code = generateDeviceCode(id);
      const a = request({ id, deviceCodeHash: code.hash });
      assert.equal(await store.create(a, [event('device_code.requested')]), true);
      const pending = await findByDeviceCode(store, code.code);
      assert.equal(pending?.status, 'pending');
      assert.deepEqual(pending?.scopes, ['read', 'write']);
      assert.equal(pending?.expiresAt, NOW + 300);
      assert.equal(typeof pending?.interval, 'number');
      assert.equal((await store.findByUserCode(a.userCode))?.id, a.id);
      // Same user code again: not inserted, and no error.
      assert.equal(await store.create(request({ userCode: a.userCode }), [event('device_code.requested')]), false);
      assert.ok((await store.countLive(NOW)) >= 1);

      const grant = grantFor(a);
      assert.equal(await store.approve(a.id, NOW + 1, ctx, grant, [event('device.approved')]), true);
      assert.equal(await store.approve(a.id, NOW + 2, ctx, grantFor(a), [event('device.approved')]), false, 'decided once');
      const decided = await findByDeviceCode(store, code.code);
      assert.equal(decided?.status, 'approved');
      assert.equal(decided?.grantId, grant.id);
      assert.equal(decided?.decidedAt, NOW + 1);

      const b = request();
      await store.create(b, [event('device_code.requested')]);
      assert.equal(await store.deny(b.id, NOW + 1, 'bob', ctx, [event('device.denied')]), true);
      assert.equal((await store.findById(b.id))?.status, 'denied');
      const late = request({ expiresAt: NOW - 1 });
      await store.create(late, [event('device_code.requested')]);
      assert.equal(await store.approve(late.id, NOW, ctx, grantFor(late), []), false, 'expired codes cannot be approved');
      assert.ok((await store.deleteExpired(NOW)) >= 1);
      assert.equal(await store.findById(late.id), undefined);
      assert.ok(await store.findById(a.id), 'an approved code is provenance and stays');
    });

    test('device code: found by the row it names only with its secret; a code from before 0008 by its hash', async () => {
      const store = storage.deviceAuthorizations;
      const id = uuidv7();
      const code = generateDeviceCode(id);
      assert.equal(await store.create(request({ id, deviceCodeHash: code.hash }), [event('device_code.requested')]), true);
      assert.equal((await findByDeviceCode(store, code.code))?.id, id);
      const other = generateDeviceCode(id).code;
      assert.notEqual(other, code.code);
      assert.equal(await findByDeviceCode(store, other), undefined, 'the right id with another secret is unknown');
      assert.equal(await findByDeviceCode(store, `${id}.`), undefined);
      assert.equal(await findByDeviceCode(store, id), undefined, 'the id alone is no code');
      assert.equal(await findByDeviceCode(store, `${uuidv7()}.${code.code.split('.')[1]}`), undefined, 'the secret under another id');
      // No index by hash any more: two rows may carry one hash (nothing looks rows up by it).
      assert.equal(await store.create(request({ deviceCodeHash: code.hash }), [event('device_code.requested')]), true);

      // A code handed out before migration 0008 (no id in it): found through legacy_device_codes until it expires.
      const legacyCode = 'oldFormatCode0123456789abcdefghijklmnopqrstu';
      const old = request({ deviceCodeHash: hashSecret(legacyCode), expiresAt: NOW + 60 });
      assert.equal(await store.create(old, [event('device_code.requested')]), true);
      assert.equal(await findByDeviceCode(store, legacyCode), undefined, 'only the codes the migration kept are found by hash');
      await storage.db.insertInto('legacy_device_codes').values({ device_code_hash: old.deviceCodeHash, device_authorization_id: old.id }).execute();
      assert.equal((await findByDeviceCode(store, legacyCode))?.id, old.id);
      assert.equal(await findByDeviceCode(store, `${legacyCode}x`), undefined);
      await store.deleteExpired(NOW + 30);
      assert.equal((await findByDeviceCode(store, legacyCode))?.id, old.id, 'kept while it is live');
      await store.deleteExpired(NOW + 61);
      assert.equal(await findByDeviceCode(store, legacyCode), undefined);
      const left = await storage.db.selectFrom('legacy_device_codes').selectAll().where('device_authorization_id', '=', old.id).execute();
      assert.equal(left.length, 0, 'pruned once expired');
    });

    test('device code: concurrent redemptions from two instances give exactly one token', async () => {
      const { a, grant } = await approved(storage);
      const otherDb = await engine.openAnother();
      const other = new SqlDeviceAuthorizationStore(otherDb);
      const attempts = Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? storage.deviceAuthorizations : other).redeem(a.id, tokensFor(grant.id), 'jkt-1', [event('token.issued')]),
      );
      const outcomes = await Promise.all(attempts);
      assert.equal(outcomes.filter(Boolean).length, 1);
      assert.equal((await storage.deviceAuthorizations.findById(a.id))?.status, 'redeemed');
      const issued = await storage.db.selectFrom('refresh_tokens').select('hash').where('grant_id', '=', grant.id).execute();
      assert.equal(issued.length, 1, 'only the winner recorded tokens');
      assert.equal((await new SqlGrantStore(storage.db).findGrant(grant.id))?.dpopJkt, 'jkt-1');
      await engine.release(otherDb);
    });

    test('refresh rotation: one rotation of a token wins, also across instances', async () => {
      const { grant } = await approved(storage);
      const first = tokensFor(grant.id);
      await storage.db.transaction().execute(async (tx) => {
        const { insertIssuedTokens } = await import('../../src/storage/tokens.js');
        await insertIssuedTokens(tx, first);
      });
      const tokens = new SqlTokenStore(storage.db);
      const otherDb = await engine.openAnother();
      const other = new SqlTokenStore(otherDb);
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? tokens : other).rotateRefreshToken(first.refresh.hash, tokensFor(grant.id, first.refresh.hash), [event('token.refreshed')]),
        ),
      );
      assert.equal(outcomes.filter(Boolean).length, 1);
      assert.equal((await tokens.findRefreshToken(first.refresh.hash))?.status, 'rotated');
      const children = await storage.db.selectFrom('refresh_tokens').selectAll().where('parent_hash', '=', first.refresh.hash).execute();
      assert.equal(children.length, 1);
      await engine.release(otherDb);
    });

    test('grants and revocation statements: revoke, stream positions, backlog', async () => {
      const grants = new SqlGrantStore(storage.db);
      const { grant } = await approved(storage, { userId: 'carol' });
      const before = await grants.lastRevocationSeq();
      const statement = {
        id: uuidv7(),
        kind: 'user' as const,
        value: 'carol',
        issuedBefore: NOW + 10,
        issuedBeforeMs: (NOW + 10) * 1000,
        createdAt: NOW + 10,
        actor: 'admin',
        reason: 'left',
        via: 'admin_api' as const,
      };
      const ids = await grants.applyRevocation(statement, (revoked) => revoked.map((g) => ({ ...event('grant.revoked'), grantId: g.id })));
      assert.deepEqual(ids, [grant.id]);
      const record = await grants.findGrant(grant.id);
      assert.equal(record?.status, 'revoked');
      assert.equal(record?.revokedAt, NOW + 10);
      assert.equal(await grants.lastRevocationSeq(), before + 1);
      const after = await grants.revocationsAfter(before, 10);
      assert.equal(after.length, 1);
      assert.equal(after[0]?.id, statement.id);
      assert.equal(after[0]?.seq, before + 1);
      const listed = await grants.listRevocations(NOW);
      assert.equal(listed.find((s) => s.id === statement.id)?.grantsRevoked, 1);
    });

    test('revocations from two instances at once get distinct, gap-free positions', async () => {
      const otherDb = await engine.openAnother();
      const stores = [new SqlGrantStore(storage.db), new SqlGrantStore(otherDb)];
      const start = await stores[0]!.lastRevocationSeq();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          stores[i % 2]!.applyRevocation(
            { id: uuidv7(), kind: 'jkt', value: `nobody-${i}`, issuedBefore: NOW, issuedBeforeMs: NOW * 1000, createdAt: NOW, actor: 'a', reason: 'r', via: 'admin_api' },
            () => [event('admin.action', { i })],
          ),
        ),
      );
      const seqs = (await stores[0]!.revocationsAfter(start, 100)).map((s) => s.seq);
      assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => start + i + 1));
      assert.equal((await chainIsIntact(storage.db)).ok, true);
      await engine.release(otherDb);
    });

    test('devices: enroll, approve, classOf, revoke', async () => {
      const devices = new SqlDeviceStore(storage.db);
      const jkt = `jkt-${uuidv7()}`;
      const enrolled = await devices.enroll({ jkt, name: 'laptop', requestedClass: 'managed', now: NOW }, (r) => [{ ...event('admin.action'), jkt: r.jkt }]);
      assert.equal(enrolled.status, 'pending');
      assert.ok((await devices.countPending()) >= 1);
      assert.equal(await devices.classOf(jkt), undefined);
      await devices.approve(jkt, { by: 'admin', now: NOW + 1 });
      assert.deepEqual(await devices.classOf(jkt), { class: 'managed', trust: 'admin' });
      assert.ok((await devices.approvedClasses()).has(jkt));
      assert.equal((await devices.get(jkt))?.enrolledAt, NOW);
      await devices.revoke(jkt, { by: 'admin', now: NOW + 2 });
      assert.equal(await devices.classOf(jkt), undefined);
      assert.equal((await devices.list()).find((d) => d.jkt === jkt)?.status, 'revoked');
    });

    test('browser sessions, settings and signing keys', async () => {
      const sessions = new SqlBrowserSessionStore(storage.db);
      await sessions.insertSession({ idHash: 'sess-1', userId: 'alice', authTime: NOW, authentication: PASSWORD_SIGN_IN, createdAt: NOW, expiresAt: NOW + 60 });
      await sessions.insertSession({ idHash: 'sess-2', userId: null, authTime: null, authentication: null, createdAt: NOW, expiresAt: NOW - 1 });
      assert.deepEqual(await sessions.findSession('sess-1'), {
        idHash: 'sess-1', userId: 'alice', authTime: NOW, authentication: PASSWORD_SIGN_IN, createdAt: NOW, expiresAt: NOW + 60,
      });
      assert.equal(await sessions.deleteExpiredSessions(NOW), 1);
      await sessions.deleteSession('sess-1');
      assert.equal(await sessions.findSession('sess-1'), undefined);

      const settings = new SqlSettings(storage.db);
      assert.equal(await settings.getOrCreate('k', () => 'v1'), 'v1');
      assert.equal(await settings.getOrCreate('k', () => 'v2'), 'v1');
      await settings.set('k', 'v3');
      assert.equal(await settings.get('k'), 'v3');

      const keys = new SqlSigningKeyStore(storage.db);
      await keys.insertSigningKey({ kid: 'k1', alg: 'ES256', privateJwk: '{}', publicJwk: '{}', createdAt: NOW, activatesAt: null, retiredAt: null });
      const listed = await keys.listSigningKeys();
      assert.deepEqual(listed.find((k) => k.kid === 'k1'), { kid: 'k1', alg: 'ES256', privateJwk: '{}', publicJwk: '{}', createdAt: NOW, activatesAt: null, retiredAt: null });
    });

    test('audit: concurrent appends from two instances stay one verifiable chain', async () => {
      const otherDb = await engine.openAnother();
      const logs = [new SqlAuditLog(storage.db), new SqlAuditLog(otherDb)];
      await Promise.all(
        Array.from({ length: 40 }, (_, i) => logs[i % 2]!.record([event('admin.action', { i }), event('admin.action', { i, second: true })])),
      );
      const report = await chainIsIntact(storage.db);
      assert.equal(report.ok, true, JSON.stringify(report));
      const found = await logs[0]!.query({ type: 'admin.action', limit: 100_000 });
      assert.ok(found.filter((e) => typeof e.data['i'] === 'number').length >= 80);
      const checkpoints = new SqlAuditCheckpoints(storage.db);
      const head = await checkpoints.auditHead();
      assert.equal(head?.seq, report.events);
      // Two instances signing the same head: the first stands, the second is not an error.
      const c = { seq: head!.seq, hash: head!.hash, at: NOW, signature: 'sig-a' };
      await checkpoints.insertCheckpoint(c);
      await new SqlAuditCheckpoints(otherDb).insertCheckpoint({ ...c, signature: 'sig-b' });
      assert.equal((await checkpoints.lastCheckpoint())?.signature, 'sig-a');
      await engine.release(otherDb);
    });

    test('DPoP replay window: a proof id is claimed once across instances, and expires', async () => {
      const clock = new FakeClock(NOW);
      const otherDb = await engine.openAnother();
      const here = new SqlReplayStore(storage.db, clock);
      const there = new SqlReplayStore(otherDb, clock);
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? here : there).claim('jkt:jti-1', clock.now() + 60)));
      assert.equal(outcomes.filter(Boolean).length, 1);
      assert.equal(await there.claim('jkt:jti-1', clock.now() + 60), false);
      assert.equal(await here.claim('jkt:jti-2', clock.now() + 60), true);
      clock.advance(61);
      // Past its window the id may be claimed again (its proof fails the age check anyway)…
      assert.equal(await new SqlReplayStore(otherDb, clock).claim('jkt:jti-1', clock.now() + 60), true);
      // …and expired claims are swept.
      clock.advance(61);
      assert.equal(await here.sweep(clock.nowMs()), 1);
      assert.equal((await storage.db.selectFrom('dpop_jti').selectAll().execute()).length, 0);
      await engine.release(otherDb);
    });
    test('poll pacing: polls of one code spread over two instances are paced as one (RFC 8628 §3.5)', async () => {
      let nowMs = NOW * 1000;
      const clock = () => nowMs;
      const otherDb = await engine.openAnother();
      // On SQLite there is one instance, so "the other" is the same pacer; on PostgreSQL a second one on its own pool.
      const here = storage.pollPacer({ now: () => Math.floor(nowMs / 1000), nowMs: clock });
      const there = name === 'sqlite' ? here : new SqlPollPacer(otherDb, clock);
      const id = uuidv7();
      await here.poll(id, 5, NOW + 300);
      nowMs += 1000;
      await assert.rejects(async () => there.poll(id, 5, NOW + 300), (e: unknown) => e instanceof SlowDown && /every 10 seconds/.test(e.message));
      nowMs += 5000; // 5 s later: enough for the old interval, too soon for the new one
      await assert.rejects(async () => here.poll(id, 5, NOW + 300), /every 15 seconds/);
      nowMs += 15_000;
      await there.poll(id, 5, NOW + 300);
      // Concurrent polls at one instant: one is on time, the rest too soon.
      nowMs += 15_000;
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, async (_, i) => (i % 2 === 0 ? here : there).poll(id, 5, NOW + 300)));
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      await here.forget(id);
      await there.poll(id, 5, NOW + 300); // forgotten: a fresh start
      nowMs = (NOW + 301) * 1000;
      await here.sweep();
      await engine.release(otherDb);
    });

    test('failure counts of the verification limits: counted once across instances, per limit and key, taken back, retimed, cleared and swept', async () => {
      const otherDb = await engine.openAnother();
      // On SQLite there is one instance, so "the other" is the same counts; on PostgreSQL a second pool's.
      const here = storage.failureCounts('code_entry.session');
      const there = name === 'sqlite' ? here : new SqlFailureCounts(otherDb, 'code_entry.session');
      const times = async (counts: typeof here, key: string, since: number) => (await counts.recent(key, since)).map((f) => f.at);
      const key = 'session-hash-1';
      await here.add(key, NOW - 10);
      await there.add(key, NOW - 5);
      // Failures at one instant on both instances: each is counted, duplicates of a second included.
      const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? here : there).add(key, NOW)));
      assert.equal(new Set(ids).size, 10, 'each failure has its own id');
      assert.deepEqual(await times(there, key, NOW - 60), [NOW - 10, NOW - 5, ...Array.from({ length: 10 }, () => NOW)]);
      assert.deepEqual(await times(here, key, NOW - 5), Array.from({ length: 10 }, () => NOW), 'only failures after `since`');
      // One failure taken back on the other instance: exactly that one goes.
      await there.remove(key, ids[0]!);
      const left = await here.recent(key, NOW - 60);
      assert.equal(left.length, 11);
      assert.ok(!left.some((f) => f.id === ids[0]));
      // One moved to a later time (its check ended then), on the other instance: read back at its new time.
      await there.retime(key, ids[1]!, NOW + 1);
      assert.equal((await here.recent(key, NOW)).find((f) => f.id === ids[1])?.at, NOW + 1);
      // Another key, and the same key under another limit, count nothing of these.
      assert.deepEqual(await here.recent('session-hash-2', NOW - 60), []);
      assert.deepEqual(await storage.failureCounts('code_entry.ip').recent(key, NOW - 60), []);
      await here.add('session-hash-2', NOW);
      // A clear made on one instance is seen on the other, and touches that key only.
      await there.clear(key);
      assert.deepEqual(await here.recent(key, NOW - 60), []);
      assert.deepEqual(await times(there, 'session-hash-2', NOW - 60), [NOW]);
      // The sweep forgets failures at or before its cut.
      await here.add('session-hash-3', NOW - 100);
      await there.add('session-hash-3', NOW - 50);
      await here.add('session-hash-3', NOW - 49);
      await there.sweep(NOW - 50);
      assert.deepEqual(await times(here, 'session-hash-3', 0), [NOW - 49]);
      if (name === 'postgres') {
        // Stored as hashes: the table never holds what was typed (a username field may hold a password).
        const rows = await storage.db.selectFrom('failure_counts').select(['scope', 'key']).execute();
        assert.ok(rows.length >= 2);
        assert.ok(rows.every((r) => r.scope === 'code_entry.session' && !r.key.includes('session-hash')));
      }
      await engine.release(otherDb);
    });

    test('a revocation and a refresh of the same grant on two instances at once both complete (no deadlock)', async () => {
      const otherDb = await engine.openAnother();
      const { insertIssuedTokens } = await import('../../src/storage/tokens.js');
      const grants = new SqlGrantStore(otherDb);
      const tokens = new SqlTokenStore(storage.db);
      const races = [];
      for (let i = 0; i < 12; i++) {
        const { grant } = await approved(storage, { userId: `racer-${i}` });
        const first = tokensFor(grant.id);
        await storage.db.transaction().execute((tx) => insertIssuedTokens(tx, first));
        races.push(
          Promise.all([
            tokens.rotateRefreshToken(first.refresh.hash, tokensFor(grant.id, first.refresh.hash), [event('token.refreshed')]),
            grants.applyRevocation(
              { id: uuidv7(), kind: 'grant', value: grant.id, issuedBefore: NOW + 10, issuedBeforeMs: (NOW + 10) * 1000, createdAt: NOW + 10, actor: 'a', reason: 'race', via: 'admin_api' },
              (revoked) => revoked.map((g) => ({ ...event('grant.revoked'), grantId: g.id })),
            ),
          ]),
        );
      }
      const outcomes = await Promise.allSettled(races);
      const failed = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
      assert.deepEqual(failed, []);
      assert.equal((await chainIsIntact(storage.db)).ok, true);
      await engine.release(otherDb);
    });

    test('workloads: create, find, lifecycle, owner suspension; one exchange per external jti across two instances', async () => {
      const store = new SqlWorkloadStore(storage.db);
      const otherDb = await engine.openAnother();
      const there = new SqlWorkloadStore(otherDb);
      const base = {
        ownerId: 'alice',
        purpose: 'deploys',
        resources: ['https://api.example'],
        scopes: ['read'],
        createdAt: NOW,
        expiresAt: NOW + 86400,
        lastUsedAt: null,
        status: 'active' as const,
        statusChangedAt: NOW,
        tokensRevokedBefore: null,
        provenance: { grantId: 'g-1', jkt: null, deviceClass: 'managed', clientId: 'tether-cli' },
      };
      const federated: Workload = {
        ...base,
        id: uuidv7(),
        name: 'deploy',
        proof: { method: 'federated', issuer: 'https://ci.example', subject: 'repo:acme/app:ref:refs/heads/main', claims: { repository: 'acme/app' } },
      };
      const keyed: Workload = { ...base, id: uuidv7(), name: 'cron', proof: { method: 'key', publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, jkt: 'jkt-cron' } };
      await store.create(federated, [event('workload.created')]);
      await store.create(keyed, [event('workload.created')]);
      assert.deepEqual(await there.find(federated.id), federated);
      assert.equal((await there.findByName('alice', 'cron'))?.id, keyed.id);
      assert.deepEqual((await there.findFederated('https://ci.example', 'repo:acme/app:ref:refs/heads/main')).map((w) => w.id), [federated.id]);

      // The same external token presented to both instances at once: exactly one exchange is recorded.
      const jtiHash = `jti-${uuidv7()}`;
      const exchange = { jtiHash, expiresAt: NOW + 300, workloadId: federated.id, at: NOW + 5 };
      const raced = await Promise.all([
        ...Array.from({ length: 3 }, () => store.recordExchange(exchange, [event('workload.token_issued')])),
        ...Array.from({ length: 3 }, () => there.recordExchange(exchange, [event('workload.token_issued')])),
      ]);
      assert.equal(raced.filter(Boolean).length, 1);
      assert.equal((await store.find(federated.id))?.lastUsedAt, NOW + 5);
      // Expired claims go; a live one stays.
      assert.equal(await store.deleteExpiredJtis(NOW + 301), 1);

      assert.equal(await store.update(keyed.id, { from: ['active'], status: 'suspended', at: NOW + 10, revokeTokens: true }, [event('workload.suspended')]), true);
      assert.equal(await there.update(keyed.id, { from: ['active'], status: 'suspended', at: NOW + 11, revokeTokens: true }, []), false, 'changed once');
      const suspended = await there.find(keyed.id);
      assert.deepEqual([suspended?.status, suspended?.tokensRevokedBefore], ['suspended', NOW + 10]);
      const offboarded = await store.suspendOwned('alice', NOW + 20, (w) => [{ ...event('workload.suspended'), data: { workload: w.id } }]);
      assert.deepEqual(offboarded.map((w) => w.id), [federated.id], 'only the active one');
      assert.equal((await there.find(federated.id))?.tokensRevokedBefore, NOW + 20);
      assert.deepEqual(await there.findFederated('https://ci.example', 'repo:acme/app:ref:refs/heads/main'), []);
      assert.equal((await chainIsIntact(storage.db)).ok, true);
      await engine.release(otherDb);
    });

    // Last: it prunes what the tests before it left, and every grant they made ends at NOW + 43_200.
    test('retention: a grant that ended loses its refresh tokens, grants walked in the order they end; a live chain stays', async () => {
      const tokens = storage.tokens;
      const { insertIssuedTokens } = await import('../../src/storage/tokens.js');
      const record = async (grantId: string) => {
        const t = tokensFor(grantId);
        await storage.db.transaction().execute((tx) => insertIssuedTokens(tx, t));
        return t;
      };
      const rotated = async (grantId: string) => {
        const first = await record(grantId);
        assert.equal(await tokens.rotateRefreshToken(first.refresh.hash, tokensFor(grantId, first.refresh.hash), [event('token.refreshed')]), true);
        return first;
      };
      const stored = async (grantId: string) =>
        (await storage.db.selectFrom('refresh_tokens').select('status').where('grant_id', '=', grantId).orderBy('status').execute()).map((r) => r.status);
      const { grant: ended } = await approved(storage, { expiresAt: NOW + 100 });
      const { grant: live } = await approved(storage, { expiresAt: NOW + 100_000 });
      // Made after a live grant, ending before it; and a random (v4) id, as grants had before ids were time-ordered.
      const { grant: later } = await approved(storage, { expiresAt: NOW + 200 });
      const { grant: legacyId } = await approved(storage, { id: randomUUID(), expiresAt: NOW + 200 });
      await rotated(ended.id);
      const liveFirst = await rotated(live.id);
      await record(later.id);
      await record(legacyId.id);

      // Nothing has ended before NOW + 100.
      assert.deepEqual(await tokens.pruneEndedGrants(NOW + 100, 1_000), { grants: 0, refreshTokens: 0, more: false });
      assert.deepEqual(await stored(ended.id), ['active', 'rotated']);
      // Past every earlier grant's end, and these three's, not `live`'s.
      const step = await tokens.pruneEndedGrants(NOW + 43_201, 1_000);
      assert.equal(step.more, false);
      assert.ok(step.refreshTokens >= 4 && step.grants >= 3, JSON.stringify(step));
      assert.deepEqual([await stored(ended.id), await stored(later.id), await stored(legacyId.id)], [[], [], []]);
      assert.deepEqual(await stored(live.id), ['active', 'rotated'], 'a live grant keeps its retired tokens (reuse detection)');
      assert.equal((await tokens.findRefreshToken(liveFirst.refresh.hash))?.status, 'rotated');
      assert.deepEqual(await tokens.pruneEndedGrants(NOW + 43_201, 1_000), { grants: 0, refreshTokens: 0, more: false }, 'resumes where it stopped');
      // Two grants ending in the same second, and `live`: one grant per step, as the limit says, none passed twice.
      const { grant: twinA } = await approved(storage, { expiresAt: NOW + 50_000 });
      const { grant: twinB } = await approved(storage, { expiresAt: NOW + 50_000 });
      await record(twinA.id);
      await record(twinB.id);
      const steps = [];
      for (let i = 0; i < 4; i++) steps.push(await tokens.pruneEndedGrants(NOW + 100_001, 1));
      assert.deepEqual(steps, [
        { grants: 1, refreshTokens: 1, more: true },
        { grants: 1, refreshTokens: 1, more: true },
        { grants: 1, refreshTokens: 2, more: true },
        { grants: 0, refreshTokens: 0, more: false },
      ]);
      assert.deepEqual([await stored(live.id), await stored(twinA.id), await stored(twinB.id)], [[], [], []]);
      assert.ok(await storage.grants.findGrant(live.id), 'the grant itself is provenance and stays');

      // Rows an earlier version wrote to access_tokens go once expired, a bounded number at a time.
      const legacy = (jti: string, expiresAt: number) => ({ jti, grant_id: live.id, issued_at: NOW, expires_at: expiresAt });
      await storage.db.insertInto('access_tokens').values([legacy('old-1', NOW + 10), legacy('old-2', NOW + 20), legacy('current', NOW + 600)]).execute();
      assert.equal(await tokens.pruneLegacyAccessTokens(NOW + 30, 1), 1);
      assert.equal(await tokens.pruneLegacyAccessTokens(NOW + 30, 10), 1);
      assert.deepEqual((await storage.db.selectFrom('access_tokens').select('jti').execute()).map((r) => r.jti), ['current']);
    });
  });
}
