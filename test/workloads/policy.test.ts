import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PolicyEngine } from '../../src/policy/engine.js';
import { describeDevice } from '../../src/policy/device-trust.js';
import { authorize, decide, redeem } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { login } from '../support/tokens.js';
import { CI_AUDIENCE, claimsOf, exchange, federatedWorkload, startCiIssuer, workloadApi, type CiIssuer } from './support.js';

const POLICIES = `
@id("baseline") permit (principal, action, resource);
@id("week-long-workloads") @reason("Workloads live at most a week here.")
forbid (principal, action == Tether::Action::"CreateWorkload", resource) when { context.lifetimeSeconds > 604800 };
@id("read-only-workloads") @reason("Workloads may not write.")
forbid (principal, action == Tether::Action::"CreateWorkload", resource) when { context.scopes.contains("write") };
@id("not-from-automation") @reason("Create workloads from your own machine.")
forbid (principal, action == Tether::Action::"CreateWorkload", resource) when { context.device.class == "automation" };
@id("bob-paused") @reason("Bob's workloads are paused.")
forbid (principal is Tether::Workload, action == Tether::Action::"ExchangeToken", resource) when { principal.owner == Tether::User::"bob" };
@id("minute-tokens") @ttl("60s")
permit (principal is Tether::Workload, action == Tether::Action::"ExchangeToken", resource);
@id("no-agents-writing") @reason("Agents only read.")
forbid (principal, action == Tether::Action::"Delegate", resource) when { context.scopes.contains("write") && context.actor like "agent:*" };
`;

/** Policy at workload creation and exchange: what Cedar sees (owner, scopes, lifetime, device class) decides. */
describe('workload policy', () => {
  let ci: CiIssuer;
  let server: TestServer;
  let dir: string;

  before(async () => {
    ci = await startCiIssuer();
    dir = mkdtempSync(join(tmpdir(), 'tether-workload-policy-'));
    writeFileSync(join(dir, 'workloads.cedar'), POLICIES);
    server = await startServer({ policy: { path: dir }, federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] } });
  });

  after(async () => {
    await server.close();
    await ci.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('CreateWorkload sees the lifetime, the scopes and the device class', async () => {
    const alice = await login(server, { scope: 'read write' });
    const auth = { token: alice.accessToken, key: alice.key };
    const long = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer, { expires_in: 30 * 86400 }));
    assert.equal(long.status, 403);
    assert.equal(long.body['error'], 'access_denied');
    assert.match(String(long.body['error_description']), /at most a week/);
    const writer = await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer, { expires_in: 86400, scopes: ['read', 'write'] }));
    assert.match(String(writer.body['error_description']), /may not write/);
    assert.equal((await workloadApi(server, 'POST', '/workloads', auth, federatedWorkload(server, ci.issuer, { expires_in: 86400 }))).status, 201);

    // A login from automation (the device said so) may not create one.
    const key = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli', tether_environment: 'automation' }, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });
    await decide(server, codes.user_code);
    const robot = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key);
    assert.equal(claimsOf(String(robot.body['access_token']))['device_class'], 'automation');
    const fromCi = await workloadApi(server, 'POST', '/workloads', { token: String(robot.body['access_token']), key }, federatedWorkload(server, ci.issuer, { name: 'ci-made', expires_in: 86400 }));
    assert.equal(fromCi.status, 403);
    assert.match(String(fromCi.body['error_description']), /your own machine/);
  });

  test('ExchangeToken sees the workload as principal with its owner; @ttl shortens its tokens', async () => {
    const reply = await exchange(server, await ci.token(), await dpopKey());
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body['expires_in'], 60);

    const bob = await login(server, { user: 'bob' });
    const bobs = await workloadApi(
      server,
      'POST',
      '/workloads',
      { token: bob.accessToken, key: bob.key },
      federatedWorkload(server, ci.issuer, { name: 'bob-job', expires_in: 86400, federated: { issuer: ci.issuer, subject: 'repo:bob/x', claims: {} } }),
    );
    assert.equal(bobs.status, 201, JSON.stringify(bobs.body));
    const refused = await exchange(server, await ci.token({ sub: 'repo:bob/x' }), await dpopKey());
    assert.equal(refused.body['error'], 'invalid_request');
    assert.match(String(refused.body['error_description']), /paused/);
  });

  test('Delegate sees the actor and the scopes', async () => {
    const alice = await login(server, { scope: 'read write' });
    const { postForm } = await import('../support/http.js');
    const url = `${server.issuer}/token`;
    const form = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: alice.accessToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
    const writing = await postForm(url, { ...form, tether_actor: 'agent:bot' }, { DPoP: await alice.key.proof('POST', url) });
    assert.match(String(writing.body['error_description']), /Agents only read/);
    const reading = await postForm(url, { ...form, tether_actor: 'agent:bot', scope: 'read' }, { DPoP: await alice.key.proof('POST', url) });
    assert.equal(reading.status, 200);
  });
});

test('the default pack refuses a workload created from automation or a Bearer token, and allows one from a laptop', () => {
  const engine = PolicyEngine.withDefaultPack();
  const base = {
    step: 'workload_creation' as const,
    now: 1_800_000_000,
    client: { id: 'tether-cli' },
    resource: { uri: 'https://api.example.com', tier: 'low' as const },
    scopes: ['read'],
    user: { id: 'alice', groups: [] },
    lifetime: 86400,
    authentication: 'federated' as const,
    issuer: 'https://token.actions.githubusercontent.com',
    requester: { ip: '203.0.113.9' },
  };
  assert.equal(engine.decide({ ...base, device: describeDevice('jkt-1', undefined) }).decision, 'allow');
  const automation = engine.decide({ ...base, device: describeDevice('jkt-1', { class: 'automation', trust: 'admin' }) });
  assert.deepEqual(automation.decision === 'deny' && automation.reasons, ['workloads-created-by-a-person']);
  const bearer = engine.decide({ ...base, device: describeDevice(null, undefined) });
  assert.equal(bearer.decision, 'deny');
  // A workload's own token exchange for a high-tier API is refused by default: it is no managed device.
  const exchangeHigh = engine.decide({
    step: 'workload_exchange',
    now: 1_800_000_000,
    client: { id: 'workload:w1' },
    resource: { uri: 'https://prod.example.com', tier: 'high' },
    device: { jkt: 'jkt-runner', class: 'automation', enrolled: false },
    scopes: ['read'],
    workload: { id: 'w1', owner: 'alice' },
    authentication: 'key',
    workloadCreatedAt: 1_800_000_000 - 60,
    requester: { ip: '203.0.113.9' },
  });
  assert.equal(exchangeHigh.decision, 'deny');
});
