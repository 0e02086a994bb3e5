import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { assertOAuthError } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { introspect, login, refresh } from '../support/tokens.js';
import { isWellFormedRefreshToken, REFRESH_TOKEN_PATTERN } from '../../src/tokens/refresh-token-format.js';
import { FakeClock } from '../../src/shared/clock.js';

describe('refresh tokens', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('are recognizable (prefix + checksum), stored only as hashes, and bound to the same key', async () => {
    const session = await login(server);
    assert.ok(isWellFormedRefreshToken(session.refreshToken));
    assert.equal(session.refreshToken.match(REFRESH_TOKEN_PATTERN)?.[0], session.refreshToken);
    const rows = await server.tether.db.selectFrom('refresh_tokens').selectAll().execute();
    assert.ok(rows.length > 0);
    assert.ok(!JSON.stringify(rows).includes(session.refreshToken), 'plaintext refresh token in storage');

    assertOAuthError(await refresh(server, session.refreshToken, await dpopKey()), 'invalid_grant');
    assertOAuthError(await refresh(server, session.refreshToken, null), 'invalid_dpop_proof');
    const ok = await refresh(server, session.refreshToken, session.key);
    assert.equal(ok.status, 200);
    assert.equal(ok.body['token_type'], 'DPoP');
    assert.equal((decodeJwt(String(ok.body['access_token'])) as { cnf?: { jkt?: string } }).cnf?.jkt, session.key.jkt);
  });

  test('rotate on every use; reusing a rotated one revokes the whole grant', async () => {
    const session = await login(server);
    const first = await refresh(server, session.refreshToken, session.key);
    assert.equal(first.status, 200);
    const second = await refresh(server, String(first.body['refresh_token']), session.key);
    assert.equal(second.status, 200);
    assert.notEqual(second.body['refresh_token'], first.body['refresh_token']);
    assert.equal((await introspect(server, String(second.body['access_token'])))['active'], true);

    // The attacker (or a confused copy) presents the first, already rotated token.
    assertOAuthError(await refresh(server, String(first.body['refresh_token']), session.key), 'invalid_grant');
    // Every token descended from that approval is now dead, including the newest ones.
    assertOAuthError(await refresh(server, String(second.body['refresh_token']), session.key), 'invalid_grant');
    for (const token of [session.accessToken, first.body['access_token'], second.body['access_token'], second.body['refresh_token']]) {
      assert.equal((await introspect(server, String(token)))['active'], false);
    }
    const revocations = await server.tether.db.selectFrom('revocations').selectAll().where('via', '=', 'refresh_token_reuse').execute();
    assert.equal(revocations.length, 1);
    assert.ok(server.logs.some((l) => l.includes('refresh token reuse')), 'reuse is logged as a security event');
  });

  test('a checksum-failing or unknown token is invalid_grant', async () => {
    const session = await login(server);
    const tampered = session.refreshToken.slice(0, -1) + (session.refreshToken.endsWith('A') ? 'B' : 'A');
    assert.equal(isWellFormedRefreshToken(tampered), false);
    assertOAuthError(await refresh(server, tampered, session.key), 'invalid_grant');
    assertOAuthError(await refresh(server, 'tether_rt_not-a-token', session.key), 'invalid_grant');
  });

  test('a refresh may narrow the scope, never widen it', async () => {
    const session = await login(server, { scope: 'read' });
    assertOAuthError(await refresh(server, session.refreshToken, session.key, { scope: 'read write' }), 'invalid_scope');
    const session2 = await login(server);
    const narrowed = await refresh(server, session2.refreshToken, session2.key, { scope: 'read' });
    assert.equal(narrowed.body['scope'], 'read');
  });
});

describe('grant lifetimes', () => {
  test('idle timeout and absolute lifetime end the grant', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    const server = await startServer({ tokens: { grant_idle_ttl: '30m', grant_max_ttl: '2h' } }, clock);
    try {
      // Idle: unused for longer than 30 minutes.
      const key = () => dpopKey('ES256', () => clock.now());
      const idle = await login(server, { key: await key() });
      clock.advance(31 * 60);
      assertOAuthError(await refresh(server, idle.refreshToken, idle.key), 'invalid_grant');

      // Absolute: refreshed every 20 minutes, still ends at 2 hours.
      const busy = await login(server, { key: await key() });
      let token = busy.refreshToken;
      for (let elapsed = 0; elapsed < 100; elapsed += 20) {
        clock.advance(20 * 60);
        const reply = await refresh(server, token, busy.key);
        assert.equal(reply.status, 200, `refresh at ${elapsed + 20} min`);
        token = String(reply.body['refresh_token']);
        assert.ok(Number(reply.body['expires_in']) <= 600);
      }
      clock.advance(21 * 60);
      assertOAuthError(await refresh(server, token, busy.key), 'invalid_grant');
    } finally {
      await server.close();
    }
  });

  test('defaults are 1 hour idle and 12 hours absolute', async () => {
    const server = await startServer();
    try {
      await login(server);
      const grant = await server.tether.db.selectFrom('grants').selectAll().executeTakeFirstOrThrow();
      assert.equal(Number(grant.idle_ttl), 3600);
      assert.equal(Number(grant.expires_at) - Number(grant.created_at), 12 * 3600);
    } finally {
      await server.close();
    }
  });
});
