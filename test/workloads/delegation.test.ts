import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOAuthError } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, callApi, login, type LoggedIn } from '../support/tokens.js';
import { ACCESS_TOKEN_TYPE, claimsOf, TOKEN_EXCHANGE, workloadApi } from './support.js';
import type { DpopKey } from '../support/dpop.js';

/**
 * Delegation (RFC 8693): a person's token exchanged for a narrower, shorter one for a tool or agent. The person
 * stays `sub`, the actor is in `act`, the grant is the parent's, so revoking the person's grant ends it.
 */
describe('a token delegated to an agent', () => {
  let server: TestServer;
  let alice: LoggedIn;

  const delegate = async (subject: string, key: DpopKey | null, extra: Record<string, string> = {}) => {
    const url = `${server.issuer}/token`;
    const headers: Record<string, string> = key ? { DPoP: await key.proof('POST', url) } : {};
    return postForm(url, { grant_type: TOKEN_EXCHANGE, subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, ...extra }, headers);
  };

  before(async () => {
    server = await startServer();
    alice = await login(server, { scope: 'read write' });
  });

  after(() => server.close());

  test('the person stays sub, the agent is act, narrower scope, no longer than the parent, same grant', async () => {
    const reply = await delegate(alice.accessToken, alice.key, { tether_actor: 'agent:code-review', scope: 'read' });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body['issued_token_type'], ACCESS_TOKEN_TYPE);
    const token = String(reply.body['access_token']);
    const child = claimsOf(token);
    const parent = claimsOf(alice.accessToken);
    assert.equal(child.sub, 'alice');
    assert.deepEqual(child['act'], { sub: 'agent:code-review' });
    assert.equal(child['scope'], 'read');
    assert.equal(child['sid'], parent['sid']);
    assert.equal(child.aud, parent.aud);
    assert.ok(Number(child.exp) <= Number(parent.exp), 'never outlives its parent');
    assert.deepEqual(child['cnf'], { jkt: alice.key.jkt });
    const call = await callApi(server, token, { key: alice.key });
    assert.equal(call.status, 200);
    assert.equal(call.body['sub'], 'alice');
  });

  test('an actor_token names the actor by its own verified token', async () => {
    const bob = await login(server, { user: 'bob', scope: 'read' });
    const reply = await delegate(alice.accessToken, alice.key, { actor_token: bob.accessToken, actor_token_type: ACCESS_TOKEN_TYPE, scope: 'read' });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(claimsOf(String(reply.body['access_token']))['act'], { sub: 'bob' });
    assertOAuthError(await delegate(alice.accessToken, alice.key, { actor_token: 'garbage', actor_token_type: ACCESS_TOKEN_TYPE }), 'invalid_request');
  });

  test('refused: broader scope, another API, no actor, a proof by another key (a stolen token), a forged token', async () => {
    const narrow = await delegate(alice.accessToken, alice.key, { tether_actor: 'agent:x', scope: 'read' });
    const narrowToken = String(narrow.body['access_token']);
    assertOAuthError(await delegate(narrowToken, alice.key, { tether_actor: 'agent:y', scope: 'read write' }), 'invalid_scope');
    assertOAuthError(await delegate(alice.accessToken, alice.key, { tether_actor: 'agent:x', scope: 'admin' }), 'invalid_scope');
    assertOAuthError(await delegate(alice.accessToken, alice.key, { tether_actor: 'agent:x', resource: 'https://payroll.example' }), 'invalid_target');
    assertOAuthError(await delegate(alice.accessToken, alice.key), 'invalid_request');
    const thief = await delegate(alice.accessToken, await dpopKey(), { tether_actor: 'agent:thief' });
    assertOAuthError(thief, 'invalid_request');
    assert.match(String(thief.body['error_description']), /key the token is bound to/);
    assertOAuthError(await delegate(alice.accessToken, null, { tether_actor: 'agent:x' }), 'invalid_dpop_proof');
    const [h, p] = alice.accessToken.split('.');
    assertOAuthError(await delegate(`${h}.${p}.AAAA`, alice.key, { tether_actor: 'agent:x' }), 'invalid_request');
  });

  test('a delegated token cannot create a workload (a tool is not a person)', async () => {
    const reply = await delegate(alice.accessToken, alice.key, { tether_actor: 'agent:x' });
    const created = await workloadApi(server, 'POST', '/workloads', { token: String(reply.body['access_token']), key: alice.key }, {
      name: 'sneaky',
      purpose: 'x',
      resources: [server.api],
      scopes: ['read'],
      expires_in: 3600,
      public_key: (await dpopKey()).jwk,
    });
    assert.equal(created.status, 403);
  });

  test('revoking the person\'s grant kills the delegated token', async () => {
    const carol = await login(server, { scope: 'read write' });
    const reply = await delegate(carol.accessToken, carol.key, { tether_actor: 'agent:z' });
    const token = String(reply.body['access_token']);
    assert.equal((await callApi(server, token, { key: carol.key })).status, 200);
    const revoked = await adminRevoke(server, { kind: 'grant', value: String(claimsOf(carol.accessToken)['sid']) });
    assert.equal(revoked.status, 201);
    assert.equal((await callApi(server, token, { key: carol.key })).status, 401);
    assertOAuthError(await delegate(carol.accessToken, carol.key, { tether_actor: 'agent:z' }), 'invalid_request');
  });
});
