import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOAuthError } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { callApi, login, type LoggedIn } from '../support/tokens.js';
import { bearerAssertion, claimsOf, workloadApi, workloadKey } from './support.js';

/**
 * A key-bound workload: a key pair made where it runs, only the public key registered, RFC 7523 assertions signed
 * by it plus DPoP. Then its lifecycle: suspend, resume, rotate-key, delete, each cutting off what it must.
 */
describe('a key-bound workload', () => {
  let server: TestServer;
  let alice: LoggedIn;
  let key: Awaited<ReturnType<typeof workloadKey>>;
  let runner: DpopKey;
  let id: string;
  const secrets: string[] = [];
  const auth = () => ({ token: alice.accessToken, key: alice.key });

  const token = async (k = key, opts: Parameters<typeof key.assertion>[2] = {}) => {
    const assertion = await k.assertion(server, id, opts);
    secrets.push(assertion);
    return bearerAssertion(server, assertion, runner);
  };

  before(async () => {
    server = await startServer();
    alice = await login(server);
    key = await workloadKey();
    runner = await dpopKey();
    const created = await workloadApi(server, 'POST', '/workloads', auth(), {
      name: 'nightly-report',
      purpose: 'reads the API for the nightly report',
      resources: [server.api],
      scopes: ['read', 'write'],
      expires_in: 7 * 86400,
      public_key: key.publicJwk,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = String(created.body['id']);
    assert.equal(created.body['authentication'], 'key');
    assert.match(String(created.body['key_thumbprint']), /^[A-Za-z0-9_-]{43}$/);
  });

  after(() => server.close());

  test('an assertion signed by the registered key, with DPoP, gets a bound workload token', async () => {
    const reply = await token();
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const access = String(reply.body['access_token']);
    secrets.push(access);
    const claims = claimsOf(access);
    assert.equal(claims.sub, `workload:${id}`);
    assert.equal(claims['owner'], 'alice');
    assert.deepEqual(claims['cnf'], { jkt: runner.jkt });
    assert.equal(reply.body['scope'], 'read write');
    assert.equal((await callApi(server, access, { key: runner })).status, 200);
    const narrowed = await bearerAssertion(server, await key.assertion(server, id), runner, { scope: 'read' });
    assert.equal(narrowed.body['scope'], 'read');
  });

  test('refused with invalid_grant: a replayed assertion, another key, a long-lived assertion, the wrong audience, no proof', async () => {
    const assertion = await key.assertion(server, id);
    assert.equal((await bearerAssertion(server, assertion, runner)).status, 200);
    const replay = await bearerAssertion(server, assertion, runner);
    assertOAuthError(replay, 'invalid_grant');
    assert.match(String(replay.body['error_description']), /already used/);

    const stranger = await workloadKey();
    const forged = await token(stranger);
    assertOAuthError(forged, 'invalid_grant');
    assert.match(String(forged.body['error_description']), /registered key/);

    const longLived = await token(key, { ttl: 3600 });
    assertOAuthError(longLived, 'invalid_grant');
    assertOAuthError(await token(key, { aud: 'https://elsewhere.example/token' }), 'invalid_grant');
    assertOAuthError(await token(key, { sub: 'workload:00000000-0000-7000-8000-000000000000' }), 'invalid_grant');
    assertOAuthError(await bearerAssertion(server, await key.assertion(server, id), null), 'invalid_dpop_proof');
    assertOAuthError(await bearerAssertion(server, await key.assertion(server, id), runner, { scope: 'admin' }), 'invalid_scope');
  });

  test('suspend cuts its tokens off and refuses exchange; resume lets new ones through, not the old', async () => {
    const before = String((await token()).body['access_token']);
    assert.equal((await callApi(server, before, { key: runner })).status, 200);
    const suspended = await workloadApi(server, 'POST', `/workloads/${id}/suspend`, auth());
    assert.equal(suspended.body['status'], 'suspended');
    assert.equal((await callApi(server, before, { key: runner })).status, 401, 'a suspended workload\'s token is dead');
    const refused = await token();
    assertOAuthError(refused, 'invalid_grant');
    assert.match(String(refused.body['error_description']), /suspended/);
    assert.equal((await workloadApi(server, 'POST', `/workloads/${id}/suspend`, auth())).status, 409);

    await new Promise((r) => setTimeout(r, 1100)); // statements and status changes are per second
    assert.equal((await workloadApi(server, 'POST', `/workloads/${id}/resume`, auth())).body['status'], 'active');
    await new Promise((r) => setTimeout(r, 1100));
    const after = String((await token()).body['access_token']);
    assert.equal((await callApi(server, after, { key: runner })).status, 200);
    assert.equal((await callApi(server, before, { key: runner })).status, 401, 'resuming does not revive old tokens');
  });

  test('rotate-key: the old key stops working and its tokens die; the new key works', async () => {
    const old = String((await token()).body['access_token']);
    const next = await workloadKey();
    const rotated = await workloadApi(server, 'POST', `/workloads/${id}/rotate-key`, auth(), { public_key: next.publicJwk });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await callApi(server, old, { key: runner })).status, 401);
    assertOAuthError(await token(key), 'invalid_grant');
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await token(next);
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    key = next;
  });

  test('delete: gone from the list, no more tokens', async () => {
    const live = String((await token()).body['access_token']);
    assert.equal((await workloadApi(server, 'DELETE', `/workloads/${id}`, auth())).status, 200);
    assert.equal((await callApi(server, live, { key: runner })).status, 401);
    assertOAuthError(await token(), 'invalid_grant');
    assert.deepEqual((await workloadApi(server, 'GET', '/workloads', auth())).body['workloads'], []);
  });

  test('the registered key is public only, and no assertion or token reaches a log line', () => {
    const logs = server.logs.join('');
    for (const secret of secrets) assert.ok(!logs.includes(secret));
    assert.ok(!logs.includes(String(key.privateJwk.d)));
  });
});
