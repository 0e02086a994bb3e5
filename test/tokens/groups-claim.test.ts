import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startServer, type TestServer } from '../support/in-process.js';
import { introspect, login, refresh } from '../support/tokens.js';

/** API policies read the person's groups from the token: stamped at issuance and again at every refresh. */
describe('the groups claim', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('carries the groups of the user directory at issuance and at refresh', async () => {
    const bob = await login(server, { user: 'bob' });
    assert.deepEqual(decodeJwt(bob.accessToken)['groups'], ['contractors']);
    const renewed = await refresh(server, bob.refreshToken, bob.key);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.deepEqual(decodeJwt(String(renewed.body['access_token']))['groups'], ['contractors']);
    const alice = await login(server, { scope: 'read' });
    assert.deepEqual(decodeJwt(alice.accessToken)['groups'], ['engineering']);
    assert.equal((await introspect(server, alice.accessToken))['active'], true);
  });
});
