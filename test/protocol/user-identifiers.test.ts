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
