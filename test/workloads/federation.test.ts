import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { Captured, FakeStdin } from '../cli/harness.js';
import { assertOAuthError } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { callApi, login, type LoggedIn } from '../support/tokens.js';
import { CI_AUDIENCE, claimsOf, exchange, federatedWorkload, startCiIssuer, workloadApi, type CiIssuer } from './support.js';

/**
 * Workload federation (RFC 8693): a stand-in CI issuer (real HTTP, its own discovery and JWKS) issues job tokens;
 * Tether exchanges the one that matches a workload's issuer, subject and claims for a short DPoP-bound token, and
 * refuses every other with the RFC's error.
 */
describe('a federated workload', () => {
  let ci: CiIssuer;
  let rogue: CiIssuer;
  let server: TestServer;
  let alice: LoggedIn;
  let runner: DpopKey;
  let workloadId: string;
  const secrets: string[] = [];

  before(async () => {
    [ci, rogue] = await Promise.all([startCiIssuer(), startCiIssuer()]);
    server = await startServer({ federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] } });
    alice = await login(server, { scope: 'read write' });
    secrets.push(alice.accessToken, alice.refreshToken);
    runner = await dpopKey();
    const created = await workloadApi(server, 'POST', '/workloads', { token: alice.accessToken, key: alice.key }, federatedWorkload(server, ci.issuer));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    workloadId = String(created.body['id']);
  });

  after(async () => {
    await server.close();
    await Promise.all([ci.close(), rogue.close()]);
  });

  test('created from alice\'s DPoP-bound login: owner, purpose, expiry, and the login it came from', async () => {
    const listed = await workloadApi(server, 'GET', '/workloads', { token: alice.accessToken, key: alice.key });
    assert.equal(listed.status, 200);
    const [w] = listed.body['workloads'] as Record<string, unknown>[];
    assert.ok(w);
    assert.equal(w['owner'], 'alice');
    assert.equal(w['purpose'], 'deploys acme/app from main');
    assert.equal(w['status'], 'active');
    assert.equal(w['authentication'], 'federated');
    assert.equal(w['last_used_at'], null);
    assert.ok(Number(w['expires_at']) > Date.now() / 1000 + 29 * 86400);
    assert.equal((w['created_under'] as Record<string, unknown>)['grant'], claimsOf(alice.accessToken)['sid']);
    assert.equal((w['created_under'] as Record<string, unknown>)['device_jkt'], alice.key.jkt);
  });

  test('the matching repository and branch get a short DPoP-bound token for the workload, which the API accepts', async () => {
    const job = await ci.token();
    secrets.push(job);
    const reply = await exchange(server, job, runner);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body['token_type'], 'DPoP');
    assert.equal(reply.body['issued_token_type'], 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(reply.body['scope'], 'read');
    assert.ok(Number(reply.body['expires_in']) <= 300);
    const token = String(reply.body['access_token']);
    secrets.push(token);
    const claims = claimsOf(token);
    assert.equal(claims.sub, `workload:${workloadId}`);
    assert.equal(claims['client_id'], `workload:${workloadId}`);
    assert.equal(claims['owner'], 'alice');
    assert.equal(claims.aud, server.api);
    assert.deepEqual(claims['cnf'], { jkt: runner.jkt });

    const call = await callApi(server, token, { key: runner });
    assert.equal(call.status, 200, JSON.stringify(call.body));
    assert.equal(call.body['sub'], `workload:${workloadId}`);
    // Bound: the same token without the runner's key is refused.
    assert.equal((await callApi(server, token, { key: await dpopKey() })).status, 401);
    const listed = await workloadApi(server, 'GET', `/workloads/${workloadId}`, { token: alice.accessToken, key: alice.key });
    assert.ok(typeof listed.body['last_used_at'] === 'number', 'last use is recorded');
  });

  test('refused: another repository, another branch, an expired token, a wrong aud, an unknown issuer', async () => {
    const noWorkload = /no active workload trusts this token/;
    const cases: [string, Promise<string>, RegExp][] = [
      ['another repository', ci.token({ repository: 'evil/fork' }), noWorkload],
      ['another branch', ci.token({ ref: 'refs/heads/feature', sub: 'repo:acme/app:ref:refs/heads/main' }), noWorkload],
      ['another subject', ci.token({ sub: 'repo:acme/app:ref:refs/heads/feature', ref: 'refs/heads/feature' }), noWorkload],
      ['expired', ci.token({}, { iat: Math.floor(Date.now() / 1000) - 600, ttl: 300 }), /expired/],
      ['wrong aud', ci.token({}, { aud: 'https://someone-else.example' }), /aud/],
      ['unknown issuer', rogue.token(), /not trusted/],
    ];
    for (const [label, pending, reason] of cases) {
      const job = await pending;
      secrets.push(job);
      const reply = await exchange(server, job, runner);
      assert.equal(reply.body['error'], 'invalid_request', `${label}: ${JSON.stringify(reply.body)}`);
      assertOAuthError(reply, 'invalid_request');
      assert.match(String(reply.body['error_description']), reason, label);
    }
  });

  test('refused: a replayed jti, the same token from a second runner, a token not yet valid, a forged signature', async () => {
    const job = await ci.token();
    secrets.push(job);
    assert.equal((await exchange(server, job, runner)).status, 200);
    const replay = await exchange(server, job, await dpopKey());
    assertOAuthError(replay, 'invalid_request');
    assert.match(String(replay.body['error_description']), /already used/);

    // Ten runners racing with one stolen token: exactly one gets a token.
    const raced = await ci.token();
    const replies = await Promise.all(Array.from({ length: 10 }, async () => exchange(server, raced, await dpopKey())));
    assert.equal(replies.filter((r) => r.status === 200).length, 1);
    for (const r of replies.filter((x) => x.status !== 200)) assertOAuthError(r, 'invalid_request');

    const future = await ci.token({}, { iat: Math.floor(Date.now() / 1000) + 120 });
    const early = await exchange(server, future, runner);
    assertOAuthError(early, 'invalid_request');
    assert.match(String(early.body['error_description']), /nbf|iat/);

    // Right issuer in the claims, signed by someone else's key: the signature check stops it.
    const forged = await rogue.token({ iss: ci.issuer });
    const [h, p] = forged.split('.');
    const payload = Buffer.from(JSON.stringify({ ...claimsOf(forged), iss: ci.issuer })).toString('base64url');
    const tampered = `${h}.${payload}.${forged.split('.')[2]}`;
    assert.ok(p);
    const bad = await exchange(server, tampered, runner);
    assertOAuthError(bad, 'invalid_request');
    assert.match(String(bad.body['error_description']), /signature/);
  });

  test('refused with the RFC\'s error: no proof, a scope or API beyond the allowance, a wrong token type', async () => {
    assertOAuthError(await exchange(server, await ci.token(), null), 'invalid_dpop_proof');
    assertOAuthError(await exchange(server, await ci.token(), runner, { scope: 'write' }), 'invalid_scope');
    assertOAuthError(await exchange(server, await ci.token(), runner, { resource: 'https://payroll.example' }), 'invalid_target');
    assertOAuthError(await exchange(server, await ci.token(), runner, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request');
    assertOAuthError(await exchange(server, await ci.token(), runner, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'invalid_request');
  });

  test('a trace of the workload token\'s jti leads to alice, her device and her approval', async () => {
    const reply = await exchange(server, await ci.token(), runner);
    const jti = String(claimsOf(String(reply.body['access_token'])).jti);
    const stdout = new Captured();
    const io = { stdout, stderr: new Captured(), stdin: new FakeStdin(), env: {} };
    const code = await auditCommand(['trace', jti, '--data-dir', server.config.data_dir], io);
    assert.equal(code, 0, io.stderr.text);
    const text = stdout.text;
    assert.match(text, /Approved\s+\S+\s+by alice/);
    assert.match(text, new RegExp(`Workload created .*deploy-app \\(${workloadId}\\) by alice on device ${alice.key.jkt}`));
    assert.ok(text.includes(`jti ${jti}`), text);
    assert.match(text, /Workload refused .*claims do not match/);
  });

  test('only a person creates a workload: a workload token, a Bearer token, a private key, an unknown issuer, no expiry are refused', async () => {
    const reply = await exchange(server, await ci.token(), runner);
    const workloadToken = String(reply.body['access_token']);
    const byWorkload = await workloadApi(server, 'POST', '/workloads', { token: workloadToken, key: runner }, federatedWorkload(server, ci.issuer, { name: 'child' }));
    assert.equal(byWorkload.status, 403);
    assert.equal(byWorkload.body['error'], 'access_denied');

    const bearer = await workloadApi(server, 'POST', '/workloads', { token: alice.accessToken, key: null, scheme: 'Bearer' }, federatedWorkload(server, ci.issuer, { name: 'b' }));
    assert.equal(bearer.status, 401);

    const auth = { token: alice.accessToken, key: alice.key };
    const { privateJwk } = await (await import('./support.js')).workloadKey();
    const privateKey = await workloadApi(server, 'POST', '/workloads', auth, { ...federatedWorkload(server, ci.issuer, { name: 'k' }), federated: undefined, public_key: privateJwk });
    assert.equal(privateKey.status, 400);
    assert.match(String(privateKey.body['error_description']), /private/);
    const unknown = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, rogue.issuer, { name: 'u' }));
    assert.equal(unknown.body['error'], 'invalid_request');
    const { expires_in: _drop, ...noExpiry } = federatedWorkload(server, ci.issuer, { name: 'n' });
    assert.equal((await workloadApi(server, 'POST', '/workloads', auth, noExpiry)).status, 400);
    const tooLong = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer, { name: 'l', expires_in: 365 * 86400 }));
    assert.match(String(tooLong.body['error_description']), /max_ttl/);
    const beyond = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer, { name: 's', scopes: ['admin'] }));
    assert.equal(beyond.body['error'], 'invalid_scope');
    const duplicate = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer));
    assert.equal(duplicate.status, 409);
  });

  test('bob cannot see or change alice\'s workload', async () => {
    const bob = await login(server, { user: 'bob' });
    const auth = { token: bob.accessToken, key: bob.key };
    assert.deepEqual((await workloadApi(server, 'GET', '/workloads', auth)).body['workloads'], []);
    assert.equal((await workloadApi(server, 'GET', `/workloads/${workloadId}`, auth)).status, 404);
    assert.equal((await workloadApi(server, 'POST', `/workloads/${workloadId}/suspend`, auth)).status, 404);
    assert.equal((await exchange(server, await ci.token(), runner)).status, 200, 'still active');
  });

  test('no token, assertion or secret appears in any log line or any file the server wrote', async () => {
    const logs = server.logs.join('');
    for (const secret of secrets) assert.ok(!logs.includes(secret), 'a token reached the log');
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const files = readdirSync(server.config.data_dir).map((f) => readFileSync(join(server.config.data_dir, f)).toString('latin1'));
    assert.ok(files.length > 0);
    for (const secret of secrets) {
      // A JWT's signature part is unique to it: if any file held the token, it would hold that.
      const signature = secret.split('.')[2] ?? secret;
      for (const content of files) assert.ok(!content.includes(signature), 'a token was written to disk');
    }
  });
});
