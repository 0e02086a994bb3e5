import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { adminCommand } from '../../src/cli/commands/admin.js';
import { assertOAuthError } from '../support/device-flow.js';
import { postForm } from '../support/http.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, introspect, login, refresh, type LoggedIn } from '../support/tokens.js';

async function assertDead(server: TestServer, session: LoggedIn) {
  assert.equal((await introspect(server, session.accessToken))['active'], false, 'access token still active');
  assert.equal((await introspect(server, session.refreshToken))['active'], false, 'refresh token still active');
  assertOAuthError(await refresh(server, session.refreshToken, session.key), 'invalid_grant');
}

async function assertAlive(server: TestServer, session: LoggedIn) {
  assert.equal((await introspect(server, session.accessToken))['active'], true, 'an unrelated token was revoked');
}

describe('revocation, on every path, takes effect at once', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const revoke = (token: string, hint?: string) =>
    postForm(`${server.issuer}/revoke`, { client_id: 'tether-cli', token, ...(hint ? { token_type_hint: hint } : {}) });

  test('RFC 7009 with the refresh token ends the grant', async () => {
    const session = await login(server);
    const bystander = await login(server);
    const reply = await revoke(session.refreshToken, 'refresh_token');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    await assertDead(server, session);
    await assertAlive(server, bystander);
  });

  test('RFC 7009 with the access token ends the grant (the hint is only a hint)', async () => {
    const session = await login(server);
    assert.equal((await revoke(session.accessToken, 'refresh_token')).status, 200);
    await assertDead(server, session);
  });

  test('RFC 7009 answers 200 for unknown tokens and ignores tokens of other clients', async () => {
    assert.equal((await revoke('not-a-token')).status, 200);
    const session = await login(server);
    const other = await postForm(`${server.issuer}/revoke`, {
      client_id: 'ci-bot',
      client_secret: 'a-very-long-client-secret-for-tests-0123456789',
      token: session.refreshToken,
    });
    assert.equal(other.status, 200);
    await assertAlive(server, session);
    assertOAuthError(await postForm(`${server.issuer}/revoke`, { client_id: 'tether-cli' }), 'invalid_request');
    assertOAuthError(await postForm(`${server.issuer}/revoke`, { client_id: 'nobody', token: 'x' }), 'invalid_client', 401);
  });

  test('admin API by grant, user, device key and client', async () => {
    const byGrant = await login(server);
    const grant = (await introspect(server, byGrant.accessToken))['sid'];
    assert.equal((await adminRevoke(server, { kind: 'grant', value: grant })).status, 201);
    await assertDead(server, byGrant);

    const bob1 = await login(server, { user: 'bob' });
    const bob2 = await login(server, { user: 'bob' });
    const alice = await login(server);
    const byUser = await adminRevoke(server, { kind: 'user', value: 'bob', reason: 'offboarding' });
    assert.equal(byUser.body['grants_revoked'], 2);
    await assertDead(server, bob1);
    await assertDead(server, bob2);
    await assertAlive(server, alice);

    const byKey = await login(server);
    assert.equal((await adminRevoke(server, { kind: 'jkt', value: byKey.key.jkt })).body['grants_revoked'], 1);
    await assertDead(server, byKey);
    await assertAlive(server, alice);

    assert.ok(Number((await adminRevoke(server, { kind: 'client', value: 'tether-cli' })).body['grants_revoked']) >= 1);
    await assertDead(server, alice);
  });

  test('the kill switch ends every device-flow grant; later logins work again', async () => {
    const sessions = [await login(server), await login(server, { user: 'bob' }), await login(server)];
    const reply = await adminRevoke(server, { kind: 'all', reason: 'incident 42' });
    assert.equal(reply.status, 201);
    assert.equal(reply.body['grants_revoked'], 3);
    for (const s of sessions) await assertDead(server, s);
    await assertAlive(server, await login(server));
  });

  test('the admin API refuses a missing or wrong key and bad bodies', async () => {
    assert.equal((await adminRevoke(server, { kind: 'all' }, 'wrong-key')).status, 401);
    const noKey = await fetch(`${server.issuer}/admin/revocations`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(noKey.status, 401);
    assert.match(noKey.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal((await adminRevoke(server, { kind: 'user' })).body['error'], 'invalid_request');
    assert.equal((await adminRevoke(server, { kind: 'all', value: 'x' })).body['error'], 'invalid_request');
    assert.equal((await adminRevoke(server, { kind: 'everything' })).body['error'], 'invalid_request');
  });

  test('`tether admin revoke` revokes through the admin API and lists revocations', async () => {
    const session = await login(server);
    const out: string[] = [];
    const err: string[] = [];
    const sink = (into: string[]) => new Writable({ write: (c: Buffer, _e, done) => (into.push(c.toString()), done()) });
    const io = { stdout: sink(out), stderr: sink(err), stdin: process.stdin, env: { TETHER_ADMIN_KEY: ADMIN_KEY } };
    const code = await adminCommand(['revoke', `--jkt=${session.key.jkt}`, '--reason', 'lost laptop', '--issuer', server.issuer], io);
    assert.equal(code, 0, err.join(''));
    assert.match(out.join(''), /Revoked 1 grant/);
    await assertDead(server, session);

    out.length = 0;
    assert.equal(await adminCommand(['revocations', '--issuer', server.issuer], io), 0);
    assert.match(out.join(''), /jkt .* by admin-key:.* via admin_api: lost laptop/);

    const noKey = { ...io, env: {} };
    assert.equal(await adminCommand(['revoke', '--all-device-flow', '--issuer', server.issuer], noKey), 2);
    const badKey = { ...io, env: { TETHER_ADMIN_KEY: 'nope' } };
    assert.equal(await adminCommand(['revoke', '--all-device-flow', '--issuer', server.issuer], badKey), 5);
    assert.equal(await adminCommand(['revoke', '--user', 'a', '--client', 'b', '--issuer', server.issuer], io), 2);
    assert.equal(await adminCommand(['revoke', '--all-device-flow', '--issuer', 'http://127.0.0.1:1'], io), 4);
  });

  test('a revoked access token stays known as revoked until it expires', async () => {
    const session = await login(server);
    await revoke(session.accessToken);
    const { sid } = decodeJwt(session.accessToken) as { sid: string };
    const grant = await server.tether.db.selectFrom('grants').selectAll().where('id', '=', sid).executeTakeFirstOrThrow();
    assert.equal(grant.status, 'revoked');
    const listed = await fetch(`${server.issuer}/admin/revocations`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const { revocations } = (await listed.json()) as { revocations: { kind: string; value: string; via: string }[] };
    assert.ok(revocations.some((r) => r.kind === 'grant' && r.value === sid && r.via === 'token_revocation'));
  });
});
