import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startGateway, type InProcessGateway } from '../support/gateway.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, ath, login } from '../support/tokens.js';
import { memoryLogger, until } from '../guard/support.js';
import { SCIM_TOKEN_HASH, ScimClient } from '../scim/scim-client.js';
import { CI_AUDIENCE, exchange, federatedWorkload, startCiIssuer, workloadApi, type CiIssuer } from './support.js';

/** The status of a DPoP GET of `/orders/7` through the gateway at `base` (the body read and dropped). */
async function statusThrough(base: string, token: string, key: DpopKey): Promise<number> {
  const url = `${base}/orders/7`;
  const response = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', url, { ath: await ath(token) }) } });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Offboarding (OWASP NHI1): revoking all of a person's grants suspends their workloads and pushes an `owner`
 * revocation to every guard. A workload running behind `tether gateway` is cut off within a second; another
 * person's workload is untouched.
 */
describe('offboarding a workload\'s owner', () => {
  let ci: CiIssuer;
  let server: TestServer;
  let gateway: InProcessGateway;
  const logger = memoryLogger();

  const viaGateway = (token: string, key: DpopKey) => statusThrough(gateway.base, token, key);

  before(async () => {
    ci = await startCiIssuer();
    server = await startServer({ federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] } });
    gateway = await startGateway(server, { logger, scopes: ['read'] });
    await gateway.connected.stream.ready(5_000);
  });

  after(async () => {
    await gateway.close();
    await server.close();
    await ci.close();
  });

  test('revoking alice by user suspends her workload; the gateway refuses its running token within 1 s', async () => {
    const alice = await login(server);
    const bob = await login(server, { user: 'bob' });
    const mine = await workloadApi(server, 'POST', '/workloads', { token: alice.accessToken, key: alice.key }, federatedWorkload(server, ci.issuer));
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    const bobs = await workloadApi(
      server,
      'POST',
      '/workloads',
      { token: bob.accessToken, key: bob.key },
      federatedWorkload(server, ci.issuer, { name: 'bob-job', federated: { issuer: ci.issuer, subject: 'repo:acme/other:ref:refs/heads/main', claims: {} } }),
    );
    assert.equal(bobs.status, 201, JSON.stringify(bobs.body));

    const runner = await dpopKey();
    const running = String((await exchange(server, await ci.token(), runner)).body['access_token']);
    const bobRunner = await dpopKey();
    const bobToken = String((await exchange(server, await ci.token({ sub: 'repo:acme/other:ref:refs/heads/main' }), bobRunner)).body['access_token']);
    assert.equal(await viaGateway(running, runner), 200);
    assert.equal(gateway.upstream.seen.at(-1)?.headers['x-tether-sub'], `workload:${String(mine.body['id'])}`);
    assert.equal(await viaGateway(bobToken, bobRunner), 200);

    const start = performance.now();
    const revoked = await adminRevoke(server, { kind: 'user', value: 'alice', reason: 'left the company' });
    assert.equal(revoked.status, 201, JSON.stringify(revoked.body));
    assert.equal(revoked.body['workloads_suspended'], 1);
    await until(async () => (await viaGateway(running, runner)) === 401, 1_000, 'the workload to be cut off at the gateway');
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1_000, `took ${elapsed} ms`);

    // It cannot get a new token either, and bob's workload goes on.
    const again = await exchange(server, await ci.token(), runner);
    assert.equal(again.body['error'], 'invalid_request');
    assert.match(String(again.body['error_description']), /no active workload|suspended/);
    assert.equal(await viaGateway(bobToken, bobRunner), 200);

    const audit = new SqlAuditLog(server.tether.db);
    const suspended = await audit.query({ type: 'workload.suspended' });
    assert.equal(suspended.length, 1);
    assert.equal(suspended[0]?.userId, 'alice');
    assert.match(String(suspended[0]?.data['reason']), /left the company/);
    const listed = await fetch(`${server.issuer}/admin/workloads`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const all = ((await listed.json()) as { workloads: Record<string, unknown>[] }).workloads;
    assert.deepEqual(all.map((w) => [w['owner'], w['status']]).sort(), [['alice', 'suspended'], ['bob', 'active']]);
    assert.equal((await fetch(`${server.issuer}/admin/workloads`)).status, 401);
    const logs = server.logs.join('');
    for (const secret of [running, bobToken, alice.accessToken, bob.accessToken]) assert.ok(!logs.includes(secret));
    assert.ok(!logger.lines.join('').includes(running));
  });
});

/**
 * Offboarding by the company directory: a SCIM deactivation runs the workload service's offboarding hook, so the
 * person's workloads are suspended in the same step as their grants are revoked, and a running workload is cut
 * off at the gateway within a second (not at the next cleanup).
 */
describe('a workload owner deactivated by SCIM', () => {
  let ci: CiIssuer;
  let server: TestServer;
  let gateway: InProcessGateway;
  const logger = memoryLogger();

  const viaGateway = (token: string, key: DpopKey) => statusThrough(gateway.base, token, key);

  before(async () => {
    ci = await startCiIssuer();
    server = await startServer({ federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] }, scim: { bearer_token_hashes: [SCIM_TOKEN_HASH] } });
    gateway = await startGateway(server, { logger, scopes: ['read'] });
    await gateway.connected.stream.ready(5_000);
  });

  after(async () => {
    await gateway.close();
    await server.close();
    await ci.close();
  });

  test('active: false suspends the owner\'s workload in the offboarding; the gateway refuses its running token within 1 s', async () => {
    const alice = await login(server);
    const made = await workloadApi(server, 'POST', '/workloads', { token: alice.accessToken, key: alice.key }, federatedWorkload(server, ci.issuer));
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const runner = await dpopKey();
    const running = String((await exchange(server, await ci.token(), runner)).body['access_token']);
    assert.equal(await viaGateway(running, runner), 200);

    const start = performance.now();
    const patched = await new ScimClient(server.issuer).patch('/Users/alice', [{ op: 'replace', value: { active: false } }]);
    assert.equal(patched.status, 200, patched.text);
    await until(async () => (await viaGateway(running, runner)) === 401, 1_000, 'the workload to be cut off at the gateway');
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1_000, `took ${elapsed} ms`);

    const again = await exchange(server, await ci.token(), runner);
    assert.equal(again.body['error'], 'invalid_request');
    assert.match(String(again.body['error_description']), /no active workload/);
    const listed = await fetch(`${server.issuer}/admin/workloads`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const [w] = ((await listed.json()) as { workloads: Record<string, unknown>[] }).workloads;
    assert.deepEqual([w?.['owner'], w?.['status']], ['alice', 'suspended']);
    const audit = new SqlAuditLog(server.tether.db);
    const [offboarded] = await audit.query({ type: 'user.offboarded' });
    assert.deepEqual((offboarded?.data['hooks'] as Record<string, unknown>[]).find((h) => 'workloads_suspended' in h), { workloads_suspended: 1 });
    const [suspended] = await audit.query({ type: 'workload.suspended' });
    assert.match(String(suspended?.data['reason']), /owner offboarded: deactivated by the directory/);
    assert.ok(!server.logs.join('').includes(running), 'no token in the server log');
  });
});

describe('a workload owner removed from the user directory', () => {
  test('is offboarded at the next start: workloads suspended, an owner statement issued, no more exchange', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { hashPassword } = await import('../../src/users/password.js');
    const { TEST_PASSWORD } = await import('../support/in-process.js');
    const dir = mkdtempSync(join(tmpdir(), 'tether-departed-'));
    const ci = await startCiIssuer();
    const federation = { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] };
    try {
      const first = await startServer({ data_dir: dir, federation });
      const bob = await login(first, { user: 'bob' });
      const made = await workloadApi(first, 'POST', '/workloads', { token: bob.accessToken, key: bob.key }, federatedWorkload(first, ci.issuer));
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal((await exchange(first, await ci.token(), await dpopKey())).status, 200);
      // The restarted server refuses proofs dated at or before its predecessor's replay mark (the second of that
      // exchange): the next exchange signs its proof a second later, as a client refused for it would.
      const afterMark = Math.floor(Date.now() / 1000) + 1;
      await first.close();

      // The directory no longer has bob.
      const hash = await hashPassword(TEST_PASSWORD);
      const second = await startServer({ data_dir: dir, federation, users: [{ username: 'alice', password_hash: hash }] });
      try {
        const listed = await fetch(`${second.issuer}/admin/workloads`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
        const [w] = ((await listed.json()) as { workloads: Record<string, unknown>[] }).workloads;
        assert.deepEqual([w?.['owner'], w?.['status']], ['bob', 'suspended']);
        const revocations = await fetch(`${second.issuer}/admin/revocations`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
        const kinds = ((await revocations.json()) as { revocations: Record<string, unknown>[] }).revocations.map((r) => [r['kind'], r['value']]);
        assert.deepEqual(kinds, [['owner', 'bob']]);
        const refused = await exchange(second, await ci.token(), await dpopKey(), {}, afterMark);
        assert.equal(refused.body['error'], 'invalid_request', JSON.stringify(refused.body));
        assert.match(String(refused.body['error_description']), /no active workload/);
      } finally {
        await second.close();
      }
    } finally {
      await ci.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

