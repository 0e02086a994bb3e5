import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toOcsf } from '../../src/audit/ocsf.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, authorize, redeem } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { dpopGetStatus, startGatewayCommand, type GatewayUnderTest } from '../support/gateway.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { callApi, introspect, login, refresh, type LoggedIn } from '../support/tokens.js';
import { until } from '../guard/support.js';
import { SCIM_TOKEN_HASH, ScimClient } from './scim-client.js';

const SCIM_ACTOR = `scim:${SCIM_TOKEN_HASH.slice(0, 8)}`;

/** Signs in on the verification page for a fresh device code; returns the status and page of the sign-in step. */
async function signIn(server: TestServer, username: string): Promise<{ status: number; page: string }> {
  const codes = await authorize(server);
  const browser = new FormBrowser(server.issuer);
  const page = await browser.decide(codes.user_code, 'approve', username);
  return { status: browser.lastStatus, page };
}

async function offboardingEvents(server: TestServer, userId: string) {
  return (await new SqlAuditLog(server.tether.db).query({ type: 'user.offboarded', userId })).filter((e) => e.type === 'user.offboarded');
}

/**
 * Directory-driven offboarding (issue 14, point 4): a SCIM client written from RFC 7644 deactivates or deletes a
 * person, and everything they hold ends at once, at the server and at a running `tether gateway`.
 */
describe('offboarding over SCIM', () => {
  let server: TestServer;
  let scim: ScimClient;
  let gateway: GatewayUnderTest;
  let base: string;

  const atGateway = (session: LoggedIn) => dpopGetStatus(base, session);

  before(async () => {
    server = await startServer({ scim: { bearer_token_hashes: [SCIM_TOKEN_HASH] } });
    scim = new ScimClient(server.issuer);
    gateway = await startGatewayCommand(server);
    base = gateway.base;
  });

  after(async () => {
    await gateway.close();
    await server.close();
  });

  test('active: false ends every grant: refused at tether gateway within 1 s, refresh fails, sign-in refused, one audit event', async (t) => {
    const first = await login(server);
    const second = await login(server, { scope: 'read' });
    await until(async () => (await atGateway(first)) === 200, 10_000, 'the gateway to accept a fresh token');
    assert.equal(await atGateway(second), 200);
    // A hook, as the workload service will feed one: told before the grants go, its outcome in the audit event.
    const told: string[] = [];
    server.tether.offboarding.addHook(async (request) => {
      told.push(`${request.userId}:${request.reason}:${request.actor}`);
      return { workloads_suspended: 0 };
    });

    // The provisioning client finds the person by userName, then deactivates them (RFC 7644 §3.5.2).
    const alice = await scim.findUser('Alice');
    assert.equal(alice?.['id'], 'alice', 'the local account is in the directory under its own sub');
    const started = performance.now();
    const patched = await scim.patch('/Users/alice', [{ op: 'replace', value: { active: false } }]);
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body?.['active'], false);
    await until(async () => (await atGateway(first)) === 401 && (await atGateway(second)) === 401, 2_000, 'the gateway to refuse');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1_000, `refused at the gateway ${Math.round(elapsed)} ms after the SCIM call`);
    t.diagnostic(`both tokens refused at tether gateway ${Math.round(elapsed)} ms after the SCIM PATCH was sent`);
    const seen = gateway.upstream.seen.length;
    assert.equal(await atGateway(first), 401);
    assert.equal(gateway.upstream.seen.length, seen, 'an offboarded token never reaches the upstream');

    // At the server: tokens inactive, refresh refused with invalid_grant.
    assert.equal((await introspect(server, first.accessToken))['active'], false);
    assert.equal((await callApi(server, second.accessToken, { key: second.key })).status, 401);
    assertOAuthError(await refresh(server, first.refreshToken, first.key), 'invalid_grant');
    assertOAuthError(await refresh(server, second.refreshToken, second.key), 'invalid_grant');

    // The right password no longer signs her in.
    const attempt = await signIn(server, 'alice');
    assert.equal(attempt.status, 401);
    assert.ok(attempt.page.includes('Wrong username or password'));
    assert.ok(!attempt.page.includes('action="/device/decision"'));

    // One offboarding event, the directory as actor, naming the revocation the guards got.
    const events = await offboardingEvents(server, 'alice');
    assert.equal(events.length, 1);
    const data = events[0]?.data ?? {};
    assert.equal(data['actor'], SCIM_ACTOR);
    assert.equal(data['reason'], 'deactivated');
    assert.equal(data['grants_revoked'], 2);
    const hooks = data['hooks'] as Record<string, unknown>[];
    assert.ok(Number(hooks[0]?.['browser_sessions_ended']) >= 2, 'her signed-in verification-page sessions ended');
    assert.deepEqual(hooks[1], { workloads_suspended: 0 });
    assert.deepEqual(told, [`alice:deactivated:${SCIM_ACTOR}`]);
    const ocsf = toOcsf(events[0] as NonNullable<(typeof events)[0]>);
    assert.equal(ocsf['class_uid'], 3001, 'a SIEM sees an Account Change');
    assert.equal(ocsf['activity_id'], 5, 'Disable');
    const revocations = await fetch(`${server.issuer}/admin/revocations`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const listed = ((await revocations.json()) as { revocations: Record<string, unknown>[] }).revocations;
    const statement = listed.find((r) => r['id'] === data['revocation']);
    assert.equal(statement?.['kind'], 'user');
    assert.equal(statement?.['value'], 'alice');
    assert.equal(statement?.['via'], 'offboarding');
    assert.equal(statement?.['actor'], SCIM_ACTOR);

    // Saying it again (a provisioning retry) is not a second offboarding.
    assert.equal((await scim.patch('/Users/alice', [{ op: 'Replace', path: 'active', value: 'False' }])).status, 200);
    assert.equal((await offboardingEvents(server, 'alice')).length, 1);

    // Reactivation gives nothing back: old grants stay revoked; a new sign-in works.
    const back = await scim.patch('/Users/alice', [{ op: 'replace', path: 'active', value: true }]);
    assert.equal(back.body?.['active'], true);
    assertOAuthError(await refresh(server, first.refreshToken, first.key), 'invalid_grant');
    assert.equal((await introspect(server, second.accessToken))['active'], false);
    assert.equal(await atGateway(first), 401);
    const fresh = await login(server);
    await until(async () => (await atGateway(fresh)) === 200, 5_000, 'a new login to work at the gateway');
  });

  test('DELETE ends every grant too, and the person cannot sign in', async () => {
    const bob = await login(server, { user: 'bob' });
    assert.equal((await callApi(server, bob.accessToken, { key: bob.key })).status, 200);
    const started = performance.now();
    const deleted = await scim.request('DELETE', '/Users/bob');
    assert.equal(deleted.status, 204);
    await until(async () => (await atGateway(bob)) === 401, 2_000, 'the gateway to refuse bob');
    assert.ok(performance.now() - started < 1_000);
    assert.equal((await callApi(server, bob.accessToken, { key: bob.key })).status, 401);
    assertOAuthError(await refresh(server, bob.refreshToken, bob.key), 'invalid_grant');
    assert.equal((await signIn(server, 'bob')).status, 401);
    assert.equal((await scim.request('GET', '/Users/bob')).status, 404);
    const events = await offboardingEvents(server, 'bob');
    assert.equal(events.length, 1);
    assert.equal(events[0]?.data['reason'], 'deleted');
    assert.equal(events[0]?.data['grants_revoked'], 1);
  });
});

describe('a deactivated person gets nothing at any later step', () => {
  let server: TestServer;
  let scim: ScimClient;
  before(async () => {
    server = await startServer({ scim: { bearer_token_hashes: [SCIM_TOKEN_HASH] } });
    scim = new ScimClient(server.issuer);
  });
  after(() => server.close());

  test('a display name from the directory is text on the review page, never markup', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    assert.equal((await scim.patch('/Users/alice', [{ op: 'replace', path: 'displayName', value: evil }])).status, 200);
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    await browser.post('/device', { user_code: codes.user_code });
    const review = await browser.post('/device/sign-in', { user_code: codes.user_code, username: 'alice', password: 'correct horse battery staple' });
    assert.ok(review.includes('&lt;img src=x onerror=alert(1)&gt;'), 'shown as text');
    assert.ok(!review.includes(evil));
    await scim.patch('/Users/alice', [{ op: 'replace', path: 'displayName', value: 'Alice' }]);
  });

  test('signed in before, the Approve pressed after deactivation approves nothing', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    await browser.post('/device', { user_code: codes.user_code });
    const review = await browser.post('/device/sign-in', { user_code: codes.user_code, username: 'alice', password: 'correct horse battery staple' });
    assert.ok(review.includes('action="/device/decision"'), 'signed in, on the review page');
    assert.equal((await scim.patch('/Users/alice', [{ op: 'replace', path: 'active', value: false }])).status, 200);
    const page = await browser.post('/device/decision', { user_code: codes.user_code, decision: 'approve' });
    assert.ok(!page.includes('Device approved'), page.slice(0, 300));
    assert.ok(browser.lastStatus >= 400);
    assertOAuthError(await redeem(server, codes.device_code), 'authorization_pending');
    // Reactivated, the session signed in before the offboarding still approves nothing: it was ended.
    await scim.patch('/Users/alice', [{ op: 'replace', path: 'active', value: true }]);
    const again = await browser.post('/device/decision', { user_code: codes.user_code, decision: 'approve' });
    assert.ok(!again.includes('Device approved'), again.slice(0, 300));
    assert.equal(browser.lastStatus, 403);
    // Polled again at once: slow_down, or still pending; never tokens.
    const poll = await redeem(server, codes.device_code);
    assert.ok(['authorization_pending', 'slow_down'].includes(String(poll.body['error'])), JSON.stringify(poll.body));
  });

  test('approved before, the poll after deactivation gets no tokens', async () => {
    const key = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });
    const page = await new FormBrowser(server.issuer).decide(codes.user_code, 'approve');
    assert.ok(page.includes('Device approved'));
    assert.equal((await scim.patch('/Users/alice', [{ op: 'replace', path: 'active', value: false }])).status, 200);
    const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key);
    assert.equal(reply.status, 400, JSON.stringify(reply.body));
    assert.equal(reply.body['access_token'], undefined);
    assert.ok(['invalid_grant', 'access_denied'].includes(String(reply.body['error'])), JSON.stringify(reply.body));
  });
});

describe('group changes reach the next policy decision', () => {
  let server: TestServer;
  let scim: ScimClient;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tether-scim-policies-'));
    writeFileSync(join(dir, '00-baseline.cedar'), '@id("baseline")\npermit (principal, action, resource);\n');
    writeFileSync(
      join(dir, '10-deployers.cedar'),
      `@id("tokens-only-for-deployers")
@reason("Only deployers get tokens.")
forbid (principal, action in [Tether::Action::"Issue", Tether::Action::"Refresh"], resource)
unless { principal in Tether::Group::"deployers" };
`,
    );
    server = await startServer({ scim: { bearer_token_hashes: [SCIM_TOKEN_HASH] }, policy: { path: dir } });
    scim = new ScimClient(server.issuer);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('added to a group: tokens; removed: the next refresh is refused; added back: it works again', async () => {
    // Not a deployer yet: the approval goes through, the token request is refused by policy.
    const key = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });
    assert.ok((await new FormBrowser(server.issuer).decide(codes.user_code, 'approve')).includes('Device approved'));
    assertOAuthError(await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key), 'access_denied');

    const group = await scim.request('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'deployers', members: [{ value: 'alice' }] });
    assert.equal(group.status, 201, group.text);
    const groupId = String(group.body?.['id']);
    const session = await login(server);

    const removed = await scim.patch(`/Groups/${groupId}`, [{ op: 'remove', path: 'members[value eq "alice"]' }]);
    assert.equal(removed.status, 200);
    const refused = await refresh(server, session.refreshToken, session.key);
    assertOAuthError(refused, 'invalid_grant');
    assert.equal(refused.body['error_description'], 'Only deployers get tokens.');

    assert.equal((await scim.patch(`/Groups/${groupId}`, [{ op: 'add', path: 'members', value: [{ value: 'alice' }] }])).status, 200);
    const refreshed = await refresh(server, session.refreshToken, session.key);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });
});
