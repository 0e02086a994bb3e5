// User identifiers are canonical: however an administrator or a person spells a name, it names the same person.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormBrowser } from '../support/browser-form.js';
import { startServer } from '../support/in-process.js';
import { adminRevoke, introspect, login } from '../support/tokens.js';

describe('user identifiers', () => {
  it('revokes alice\'s grants when the administrator names her ALICE', async () => {
    const server = await startServer();
    try {
      const session = await login(server);
      assert.equal((await introspect(server, session.accessToken))['active'], true);
      const revoked = await adminRevoke(server, { kind: 'user', value: 'ALICE', reason: 'test' });
      assert.equal(revoked.status, 201, JSON.stringify(revoked.body));
      assert.equal(revoked.body['grants_revoked'], 1, 'ALICE named alice\'s grant');
      assert.equal((await introspect(server, session.accessToken))['active'], false);
    } finally {
      await server.close();
    }
  });

  it('signs in ALICE as alice, with the same subject', async () => {
    const server = await startServer({
      users: [{ username: 'Alice', name: 'Alice', password_hash: (await import('../../src/users/password.js').then((m) => m.hashPassword('pw for Alice'))) }],
    });
    try {
      const browser = new FormBrowser(server.issuer);
      await browser.get('/device');
      const page = await browser.post('/device/sign-in', { username: ' ALICE ', password: 'pw for Alice' });
      assert.ok(page.includes('action="/device"'), `signed in (HTTP ${browser.lastStatus})`);
      const events = await server.tether.db.selectFrom('audit_events').select(['type', 'user_id']).where('type', '=', 'user.signed_in').execute();
      assert.deepEqual(events.map((e) => e.user_id), ['alice'], 'the configured "Alice" is the canonical "alice"');
    } finally {
      await server.close();
    }
  });
});

describe('stored user identifiers', () => {
  it('are made canonical by the migration, so grants approved before it are revoked by name', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { default: SqliteDatabase } = await import('better-sqlite3');
    // kysely 0.28 (Node 20) exports the migrator from its root.
    const { Kysely, Migrator, SqliteDialect } = await import('kysely');
    const initial = await import('../../src/storage/migrations/0001-initial.js');
    const { openSqlite } = await import('../../src/storage/sqlite.js');
    const dir = mkdtempSync(join(tmpdir(), 'tether-migrate-'));
    try {
      // A database as the previous release left it: schema 0001, a grant for "Alice" as configured then.
      const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, 'tether.sqlite')) }) });
      const migrated = await new Migrator({ db: old, provider: { getMigrations: async () => ({ '0001-initial': initial }) } }).migrateToLatest();
      assert.equal(migrated.error, undefined);
      await old
        .insertInto('grants' as never)
        .values({
          id: 'g1', user_id: 'Alice', client_id: 'tether-cli', device_authorization_id: 'd1', scope: 'read', resource: 'r',
          auth_time: 1, created_at: 1, expires_at: 9e9, idle_ttl: 60, last_used_at: 1, status: 'active',
        } as never)
        .execute();
      await old.destroy();
      const db = await openSqlite({ dataDir: dir, synchronous: 'normal' });
      const rows = await db.selectFrom('grants').select('user_id').execute();
      await db.destroy();
      assert.deepEqual(rows, [{ user_id: 'alice' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
