import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../../src/storage/migrate.js';
import type { AuditEventInput } from '../../src/audit/event.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import type { Database } from '../../src/storage/schema.js';
import { openSqlite } from '../../src/storage/sqlite.js';
import { SqlDirectoryStore } from '../../src/storage/users.js';
import type { UserFields } from '../../src/users/directory.js';
import { provisionJustInTime } from '../../src/users/just-in-time.js';
import { StoredUserDirectory } from '../../src/users/stored-user-directory.js';

const fields = (userName: string, extra: Partial<UserFields> = {}): UserFields => ({
  userName,
  displayName: userName,
  emails: [],
  externalId: null,
  active: true,
  sourceGroups: [],
  ...extra,
});
const event = (id: string): AuditEventInput[] => [{ type: 'directory.changed', at: 1, userId: id, data: { test: true } }];

interface Backend {
  name: string;
  /** Opens the database (the same one each time), migrated. */
  open(): Promise<Kysely<Database>>;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'tether-directory-'));
const sqlite: Backend = {
  name: 'SQLite',
  open: () => openSqlite({ dataDir: dir, synchronous: 'normal' }),
  setUp: async () => undefined,
  tearDown: async () => rmSync(dir, { recursive: true, force: true }),
};

/** With TETHER_TEST_POSTGRES_URL (an empty database it may wipe), the same contract runs on PostgreSQL. */
const postgresUrl = process.env['TETHER_TEST_POSTGRES_URL'];
const postgres: Backend | undefined = postgresUrl
  ? {
      name: 'PostgreSQL',
      async open() {
        const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl, max: 4 }) }) });
        await migrateToLatest(db as Kysely<unknown>);
        return db;
      },
      async setUp() {
        const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: postgresUrl, max: 1 }) }) });
        await sql`drop schema public cascade; create schema public`.execute(db);
        await db.destroy();
      },
      tearDown: async () => undefined,
    }
  : undefined;

for (const backend of [sqlite, ...(postgres ? [postgres] : [])]) contract(backend);

/**
 * The stored directory's contract, on SQLite and (when a database is given) PostgreSQL: seeding from the
 * configuration, conditional writes, memberships and audit events in the write's transaction.
 */
function contract(backend: Backend) {
describe(`the stored user directory (${backend.name})`, () => {
  let db: Kysely<Database>;
  let store: SqlDirectoryStore;
  const reopen = async () => {
    await db.destroy();
    db = await backend.open();
    store = new SqlDirectoryStore(db);
  };

  before(async () => {
    await backend.setUp();
    db = await backend.open();
    store = new SqlDirectoryStore(db);
  });
  after(async () => {
    await db.destroy();
    await backend.tearDown();
  });

  test('local accounts are seeded under their configured id, canonical name, and refreshed while still local', async () => {
    await store.seedLocalAccounts([{ id: 'Alice', userName: 'Alice', displayName: 'Alice', groups: ['eng'] }], 100);
    const alice = await store.findUser('Alice');
    assert.equal(alice?.userName, 'alice');
    assert.equal(alice?.source, 'local');
    assert.deepEqual(alice?.sourceGroups, ['eng']);
    assert.equal((await store.findUserByName('ALICE '))?.id, 'Alice');
    await reopen();
    await store.seedLocalAccounts([{ id: 'Alice', userName: 'Alice', displayName: 'Alice A.', groups: ['eng', 'sre'] }], 200);
    const refreshed = await store.findUser('Alice');
    assert.equal(refreshed?.displayName, 'Alice A.');
    assert.deepEqual(refreshed?.sourceGroups, ['eng', 'sre']);
    assert.equal(refreshed?.version, 2);
  });

  test('once the directory wrote a person, the configuration no longer changes them', async () => {
    await store.seedLocalAccounts([{ id: 'carol', userName: 'carol', displayName: 'Carol', groups: ['eng'] }], 100);
    const written = await store.updateUser('carol', (c) => ({ fields: { ...fields(c.userName), displayName: 'Carol (Okta)', active: false }, source: 'scim' }), 1, 150, (_b, a) => event(a.id));
    assert.equal(written.ok, true);
    await reopen();
    await store.seedLocalAccounts([{ id: 'carol', userName: 'carol', displayName: 'Carol', groups: ['eng'] }], 300);
    const carol = await store.findUser('carol');
    assert.equal(carol?.displayName, 'Carol (Okta)');
    assert.equal(carol?.active, false, 'a restart does not reactivate a deactivated person');
    assert.equal(carol?.source, 'scim');
  });

  test('a deleted local account stays deleted across restarts; the name can be provisioned again', async () => {
    await store.seedLocalAccounts([{ id: 'dave', userName: 'dave', displayName: 'Dave', groups: [] }], 100);
    const deleted = await store.deleteUser('dave', undefined, 120, (u) => event(u.id));
    assert.equal(deleted.ok, true);
    assert.equal(await store.findUser('dave'), undefined);
    await reopen();
    await store.seedLocalAccounts([{ id: 'dave', userName: 'dave', displayName: 'Dave', groups: [] }], 130);
    assert.equal(await store.findUser('dave'), undefined, 'not seeded again');
    assert.equal((await store.listUsers({ attribute: 'userName', value: 'dave' }, { offset: 0, limit: 10 })).total, 0);
    assert.deepEqual(await store.createUser(fields('Dave'), 'upstream:okta', 139, (u) => event(u.id)), { ok: false, reason: 'conflict' }, 'only the directory recreates a deleted name');
    const again = await store.createUser(fields('Dave'), 'scim', 140, (u) => event(u.id), { replaceDeleted: true });
    assert.ok(again.ok);
    assert.notEqual(again.after.id, 'dave', 'a new person, a new sub');
    assert.equal((await store.createUser(fields('dave'), 'scim', 141, (u) => event(u.id))).ok, false);
    // Deleted again, the provisioned one: the configured account still does not come back.
    assert.ok((await store.deleteUser(again.after.id, undefined, 150, () => [])).ok);
    await reopen();
    await store.seedLocalAccounts([{ id: 'dave', userName: 'dave', displayName: 'Dave', groups: [] }], 160);
    assert.equal(await store.findUser('dave'), undefined);
    assert.equal(await store.findUserByName('dave'), undefined);
  });

  test('a write conditional on a version happens once; a stale one changes nothing', async () => {
    const created = await store.createUser(fields('erin'), 'scim', 100, (u) => event(u.id));
    assert.ok(created.ok);
    const id = created.after.id;
    const change = (name: string) => store.updateUser(id, (c) => ({ fields: { ...fields(c.userName), displayName: name }, source: 'scim' }), 1, 110, (_b, a) => event(a.id));
    const results = await Promise.all([change('one'), change('two')]);
    assert.deepEqual(results.map((r) => r.ok).sort(), [false, true]);
    const stale = await change('three');
    assert.deepEqual(stale, { ok: false, reason: 'version_mismatch' });
    assert.notEqual((await store.findUser(id))?.displayName, 'three');
  });

  test('two creates of one name at once: one person, one conflict (never a server error)', async () => {
    const results = await Promise.all([1, 2, 3].map((i) => store.createUser(fields(i % 2 ? 'Heidi' : 'heidi'), 'scim', 100, (u) => event(u.id))));
    assert.deepEqual(results.map((r) => (r.ok ? 'ok' : r.reason)).sort(), ['conflict', 'conflict', 'ok']);
    const groups = await Promise.all([1, 2].map(() => store.createGroup({ displayName: 'Racers', externalId: null, memberIds: [] }, 100, () => [])));
    assert.deepEqual(groups.map((r) => (r.ok ? 'ok' : r.reason)).sort(), ['conflict', 'ok']);
  });

  test('a write whose change throws leaves no change and no audit event', async () => {
    const created = await store.createUser(fields('frank'), 'scim', 100, (u) => event(u.id));
    assert.ok(created.ok);
    const audit = new SqlAuditLog(db);
    const before = (await audit.query({ userId: created.after.id })).length;
    await assert.rejects(
      store.updateUser(created.after.id, () => {
        throw new Error('bad patch');
      }, undefined, 110, (_b, a) => event(a.id)),
      /bad patch/,
    );
    assert.equal((await audit.query({ userId: created.after.id })).length, before);
    assert.equal((await store.findUser(created.after.id))?.version, 1);
  });

  test('just-in-time provisioning: created and refreshed from the claims; never past a deactivation or deletion', async () => {
    const okta = (groups: string[], displayName = 'Ivan') => ({ userName: 'Ivan@Example.com', displayName, emails: [{ value: 'ivan@example.com' }], groups });
    const first = await provisionJustInTime(store, 'okta', okta(['eng']), 100);
    assert.equal(first.status, 'signed_in');
    const id = first.status === 'signed_in' ? first.user.id : '';
    assert.equal((await store.findUser(id))?.source, 'upstream:okta');
    const directory = new StoredUserDirectory({ authenticate: async () => undefined, find: async () => undefined }, store);
    assert.deepEqual((await directory.find(id))?.groups, ['eng']);
    const second = await provisionJustInTime(store, 'okta', okta(['eng', 'sre'], 'Ivan I.'), 110);
    assert.equal(second.status === 'signed_in' && second.user.id, id, 'the same person, the same sub');
    assert.deepEqual((await directory.find(id))?.groups, ['eng', 'sre'], 'groups from the latest claims');
    assert.equal((await provisionJustInTime(store, 'entra', okta([]), 115)).status, 'other_source', 'another provider does not take the name');

    // The directory deactivates them: the provider's next sign-in is refused and changes nothing.
    await store.updateUser(id, (c) => ({ fields: { ...fields(c.userName), active: false }, source: 'scim' }), undefined, 120, () => []);
    assert.deepEqual(await provisionJustInTime(store, 'okta', okta(['admins']), 130), { status: 'inactive' });
    assert.equal(await directory.find(id), undefined);
    // Reactivated by the directory, which now manages them: the claims' groups no longer apply.
    await store.updateUser(id, (c) => ({ fields: { ...fields(c.userName), active: true }, source: 'scim' }), undefined, 140, () => []);
    const managed = await provisionJustInTime(store, 'okta', okta(['admins']), 150);
    assert.equal(managed.status, 'signed_in');
    assert.deepEqual((await directory.find(id))?.groups, []);
    // Deleted: the provider's sign-in does not recreate them.
    await store.deleteUser(id, undefined, 160, () => []);
    assert.deepEqual(await provisionJustInTime(store, 'okta', okta(['eng']), 170), { status: 'inactive' });
    assert.equal(await store.findUserByName('ivan@example.com'), undefined);
    // A local account's name is not taken over by a provider either.
    await store.seedLocalAccounts([{ id: 'judy', userName: 'judy', displayName: 'Judy', groups: [] }], 100);
    assert.equal((await provisionJustInTime(store, 'okta', { ...okta([]), userName: 'judy' }, 180)).status, 'other_source');
  });

  test('a local account taken out of the configuration is unknown, though its record remains', async () => {
    await store.seedLocalAccounts([{ id: 'kim', userName: 'kim', displayName: 'Kim', groups: [] }], 100);
    const configured = new StoredUserDirectory({ authenticate: async () => undefined, find: async (id) => (id === 'kim' ? { id, username: id, displayName: id, groups: [] } : undefined) }, store);
    const removed = new StoredUserDirectory({ authenticate: async () => undefined, find: async () => undefined }, store);
    assert.equal((await configured.find('kim'))?.id, 'kim');
    assert.equal(await removed.find('kim'), undefined);
  });

  test('memberships: a group change gives its members new versions; a deleted user leaves their groups', async () => {
    const grace = await store.createUser(fields('grace'), 'scim', 100, (u) => event(u.id));
    assert.ok(grace.ok);
    const group = await store.createGroup({ displayName: 'Ops', externalId: null, memberIds: [grace.after.id] }, 100, () => []);
    assert.ok(group.ok);
    const member = await store.findUser(grace.after.id);
    assert.deepEqual(member?.memberOf, [{ id: group.after.id, displayName: 'Ops' }]);
    assert.equal(member?.version, 2);
    assert.deepEqual((await store.createGroup({ displayName: 'ops', externalId: null, memberIds: [] }, 100, () => [])), { ok: false, reason: 'conflict' });
    // Case folding beyond ASCII, the same on SQLite and PostgreSQL.
    assert.ok((await store.createGroup({ displayName: 'Ärzte', externalId: null, memberIds: [] }, 100, () => [])).ok);
    assert.deepEqual((await store.createGroup({ displayName: 'ÄRZTE', externalId: null, memberIds: [] }, 100, () => [])), { ok: false, reason: 'conflict' });
    assert.equal((await store.listGroups({ attribute: 'displayName', value: 'ärzte' }, { offset: 0, limit: 10 })).total, 1);
    assert.deepEqual((await store.createGroup({ displayName: 'x', externalId: null, memberIds: ['nobody'] }, 100, () => [])), { ok: false, reason: 'unknown_member' });
    await store.deleteUser(grace.after.id, undefined, 110, () => []);
    const after = await store.findGroup(group.after.id);
    assert.deepEqual(after?.members, []);
    assert.equal(after?.version, 2);
  });
});
}
