import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { AuditEvent } from '../../src/audit/event.js';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { hashSecret } from '../../src/shared/crypto.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { FormBrowser } from '../support/browser-form.js';
import { authorize, decide } from '../support/device-flow.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { adminRevoke, introspect, login, refresh } from '../support/tokens.js';

function capture() {
  const out: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, done) => (out.push(c.toString()), done()) });
  return { out, stream };
}

describe('audit events', () => {
  let server: TestServer;
  let events: AuditEvent[];
  const secrets: string[] = [];
  let session: Awaited<ReturnType<typeof login>>;

  before(async () => {
    server = await startServer();
    // A flow that makes every kind of event.
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    await browser.post('/device/sign-in', { username: 'alice', password: 'wrong password' });
    await browser.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
    await browser.post('/device', { user_code: 'BCDF-GHJK-LMNP' }); // wrong code
    const codes = await authorize(server);
    secrets.push(codes.device_code, codes.user_code, codes.user_code.replaceAll('-', ''));
    await browser.post('/device', { user_code: codes.user_code });
    const denied = await authorize(server);
    await decide(server, denied.user_code, 'deny');
    session = await login(server);
    const rotated = await refresh(server, session.refreshToken, session.key);
    secrets.push(session.accessToken, session.refreshToken, String(rotated.body['access_token']), String(rotated.body['refresh_token']));
    await introspect(server, String(rotated.body['access_token']));
    await refresh(server, session.refreshToken, session.key); // reuse
    const bob = await login(server, { user: 'bob' });
    secrets.push(bob.accessToken, bob.refreshToken);
    await adminRevoke(server, { kind: 'user', value: 'bob', reason: 'offboarding' });
    events = await new SqlAuditLog(server.tether.db).query({});
  });
  after(() => server.close());

  test('every step is recorded', () => {
    const types = new Set(events.map((e) => e.type));
    for (const type of [
      'device_code.requested',
      'user_code.entered',
      'user_code.rejected',
      'user.signed_in',
      'user.sign_in_failed',
      'device.approved',
      'device.denied',
      'token.issued',
      'token.refreshed',
      'refresh_token.reuse_detected',
      'grant.revoked',
      'token.introspected',
      'admin.action',
    ] as const) {
      assert.ok(types.has(type), `no ${type} event`);
    }
  });

  test('each carries its context: user, client, device key, addresses, user agents, scopes, resource, TTL, grant', () => {
    const approved = events.find((e) => e.type === 'device.approved' && e.userId === 'alice' && e.jkt === session.key.jkt);
    assert.ok(approved);
    assert.equal(approved.clientId, 'tether-cli');
    for (const key of ['approver_ip', 'approver_user_agent', 'requester_ip', 'requester_user_agent', 'scopes', 'resource', 'same_network']) {
      assert.ok(key in approved.data, `approval lacks ${key}`);
    }
    const { jti, sid } = decodeJwt(session.accessToken) as { jti: string; sid: string };
    const issued = events.find((e) => e.type === 'token.issued' && e.jti === jti);
    assert.ok(issued, 'the issuance of the returned token is recorded under its jti');
    assert.equal(issued.grantId, sid);
    assert.equal(issued.jkt, session.key.jkt);
    assert.equal(issued.data['ttl'], 600);
    assert.equal(issued.parentId, approved.id, 'the issuance descends from the approval');
    const requested = events.find((e) => e.id === approved.parentId);
    assert.equal(requested?.type, 'device_code.requested');
    const revoked = events.filter((e) => e.type === 'grant.revoked' && e.userId === 'bob');
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]?.data['via'], 'admin_api');
    assert.match(String(revoked[0]?.data['actor']), /^admin-key:/);
    assert.equal(revoked[0]?.data['reason'], 'offboarding');
    const rejected = events.find((e) => e.type === 'user_code.rejected');
    assert.equal(rejected?.data['reason'], 'no_such_code');
  });

  test('no secret ever appears: codes and tokens only as hashes or jti', () => {
    const text = JSON.stringify(events);
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret is in the audit log');
    assert.ok(!text.includes('wrong password'));
  });

  test('the chain verifies, and trace tells the story of a grant from any of its tokens', async () => {
    const io = capture();
    const dataDir = server.config.data_dir;
    const env = { stdout: io.stream, stderr: io.stream, stdin: process.stdin, env: {} };
    assert.equal(await auditCommand(['verify', '--data-dir', dataDir], env), 0, io.out.join(''));
    assert.match(io.out.join(''), /Audit chain intact: \d+ events/);

    io.out.length = 0;
    const { jti } = decodeJwt(session.accessToken) as { jti: string };
    assert.equal(await auditCommand(['trace', jti, '--data-dir', dataDir], env), 0);
    const story = io.out.join('');
    assert.match(story, /Device request .* client tether-cli {2}from 127\.0\.0\.1/);
    assert.match(story, /Approved .* by alice {2}from 127\.0\.0\.1/);
    assert.match(story, new RegExp(`Token issued .* jti ${jti} .* -> revoked`));
    assert.match(story, /Token refreshed/);
    assert.match(story, /Reuse detected/);
    assert.match(story, /Revoked .* by tether via refresh_token_reuse/);
  });

  test('filters by user and client, and exports JSON Lines and OCSF', async () => {
    const io = capture();
    const env = { stdout: io.stream, stderr: io.stream, stdin: process.stdin, env: {} };
    const dataDir = server.config.data_dir;
    assert.equal(await auditCommand(['--user', 'bob', '--data-dir', dataDir], env), 0);
    const lines = io.out.join('').trim().split('\n');
    assert.ok(lines.length >= 3 && lines.every((l) => l.includes('user=bob')));

    io.out.length = 0;
    await auditCommand(['export', '--format', 'ocsf', '--data-dir', dataDir], env);
    const ocsf = io.out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(ocsf.length, events.length);
    assert.ok(ocsf.every((e) => e['class_uid'] === 3002 || e['class_uid'] === 6003));
    assert.ok(ocsf.some((e) => e['class_uid'] === 6003 && (e['unmapped'] as Record<string, unknown>)['tether_type'] === 'token.introspected'));

    io.out.length = 0;
    await auditCommand(['export', '--client', 'tether-cli', '--data-dir', dataDir], env);
    const jsonl = io.out.join('').trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    assert.ok(jsonl.length > 0 && jsonl.every((e) => e.clientId === 'tether-cli'));
  });

  test('follow mode streams new events as they are written', async () => {
    const io = capture();
    const env = { stdout: io.stream, stderr: io.stream, stdin: process.stdin, env: {} };
    const streamed = () => io.out.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);
    const requested = (code: string) => () =>
      streamed().some((e) => e.type === 'device_code.requested' && e.data['device_code_hash'] === hashSecret(code));
    const controller = new AbortController();
    // An event in the backlog first: once it is printed, the backlog has been read and what follows is streamed.
    const before = await authorize(server);
    const following = auditCommand(['export', '--follow', '--since', '1m', '--data-dir', server.config.data_dir], env, { signal: controller.signal });
    await until(requested(before.device_code));
    const codes = await authorize(server);
    await until(requested(codes.device_code));
    controller.abort();
    assert.equal(await following, 0);
    assert.ok(!io.out.join('').includes(codes.device_code));
  });
});

/** Resolves when the condition holds, checking at each turn of a short timer; fails after ten seconds. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}
