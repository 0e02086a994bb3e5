import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { FakeClock } from '../../src/shared/clock.js';
import { assertOAuthError, basic } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { introspect, login } from '../support/tokens.js';

describe('introspection (RFC 7662)', () => {
  let server: TestServer;
  let clock: FakeClock;
  let assertionKey: CryptoKey;

  before(async () => {
    clock = new FakeClock(Math.floor(Date.now() / 1000));
    const pair = await generateKeyPair('ES256');
    assertionKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'rs-1', alg: 'ES256' };
    server = await startServer(
      {
        extra_clients: [
          // A resource server that authenticates with a signed assertion instead of a secret.
          { id: 'payroll-rs', name: 'Payroll API', type: 'confidential', jwks: { keys: [jwk] }, resources: ['https://payroll.example'], introspection: true },
        ],
      },
      clock,
    );
  });
  after(() => server.close());

  const key = () => dpopKey('ES256', () => clock.now());
  const assertion = (audience?: string) =>
    new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'rs-1' })
      .setIssuer('payroll-rs')
      .setSubject('payroll-rs')
      .setAudience(audience ?? server.issuer)
      .setIssuedAt(clock.now())
      .setExpirationTime(clock.now() + 60)
      .sign(assertionKey);

  test('active tokens carry their claims, including cnf, scope, aud, client_id, sub and exp', async () => {
    const session = await login(server, { key: await key() });
    const body = await introspect(server, session.accessToken);
    assert.equal(body['active'], true);
    assert.equal(body['token_type'], 'DPoP');
    assert.deepEqual(body['cnf'], { jkt: session.key.jkt });
    assert.equal(body['scope'], 'read write');
    assert.equal(body['aud'], server.api);
    assert.equal(body['client_id'], 'tether-cli');
    assert.equal(body['sub'], 'alice');
    assert.equal(typeof body['exp'], 'number');
    const refresh = await introspect(server, session.refreshToken);
    assert.equal(refresh['active'], true);
    assert.equal(refresh['token_type'], 'refresh_token');
    assert.deepEqual(refresh['cnf'], { jkt: session.key.jkt });
  });

  test('expired, unknown and garbage tokens are active: false and nothing else', async () => {
    const session = await login(server, { key: await key() });
    for (const token of ['garbage', 'a.b.c', 'tether_rt_00000000000000000000000000000000000000']) {
      assert.deepEqual(await introspect(server, token), { active: false });
    }
    clock.advance(601);
    assert.deepEqual(await introspect(server, session.accessToken), { active: false });
  });

  test('a resource server learns nothing about tokens for other APIs', async () => {
    const session = await login(server, { key: await key() });
    const reply = await postForm(`${server.issuer}/introspect`, {
      token: session.accessToken,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(),
    });
    assert.deepEqual(reply.body, { active: false });
  });

  test('a token is not stored, so its sid decides: one edited to name another grant is refused everywhere', async () => {
    // The attack: take your own token, point its `sid` at someone else's grant (keeping the signature), then
    // introspect it or revoke it to end their session. Only the signature makes `sid` the server's word.
    const mine = await login(server, { key: await key() });
    const theirs = await login(server, { key: await key(), user: 'bob' });
    assert.equal((await introspect(server, mine.accessToken))['sid'], decodeJwt(mine.accessToken)['sid']);
    const [header, payload, signature] = mine.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const edited = `${header}.${Buffer.from(JSON.stringify({ ...claims, sid: decodeJwt(theirs.accessToken)['sid'] })).toString('base64url')}.${signature}`;
    assert.deepEqual(await introspect(server, edited), { active: false });
    const revoked = await postForm(`${server.issuer}/revoke`, { token: edited, client_id: 'tether-cli' });
    assert.equal(revoked.status, 200, 'RFC 7009 §2.2: an invalid token is answered 200 and ignored');
    assert.equal((await introspect(server, theirs.accessToken))['active'], true, 'their grant lives on');
    assert.equal((await introspect(server, mine.accessToken))['active'], true);
  });

  test('private_key_jwt authenticates; a replayed or foreign assertion does not', async () => {
    const form = async (a: string) => ({
      token: 'x',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: a,
    });
    const good = await assertion();
    assert.equal((await postForm(`${server.issuer}/introspect`, await form(good))).status, 200);
    assertOAuthError(await postForm(`${server.issuer}/introspect`, await form(good)), 'invalid_client', 401);
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'rs-1' })
      .setIssuer('payroll-rs')
      .setSubject('payroll-rs')
      .setAudience(server.issuer)
      .setExpirationTime(clock.now() + 60)
      .sign(other.privateKey);
    assertOAuthError(await postForm(`${server.issuer}/introspect`, await form(forged)), 'invalid_client', 401);
    assertOAuthError(await postForm(`${server.issuer}/introspect`, await form(await assertion('https://elsewhere'))), 'invalid_client', 401);
  });

  test('only authenticated resource servers may introspect', async () => {
    const url = `${server.issuer}/introspect`;
    assertOAuthError(await postForm(url, { token: 'x', client_id: 'tether-cli' }), 'invalid_client', 401);
    assertOAuthError(
      await postForm(url, { token: 'x' }, { authorization: basic('api-gateway', 'wrong-secret-wrong-secret-wrong-secret') }),
      'invalid_client',
      401,
    );
    assertOAuthError(
      await postForm(url, { token: 'x' }, { authorization: basic('ci-bot', 'a-very-long-client-secret-for-tests-0123456789') }),
      'unauthorized_client',
    );
    assertOAuthError(await postForm(url, {}, { authorization: basic('api-gateway', GATEWAY_SECRET) }), 'invalid_request');
  });
});
