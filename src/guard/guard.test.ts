import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DpopNonces } from '../dpop/nonce.js';
import {
  accessToken,
  AUDIENCE,
  dpopKey,
  dpopRequest,
  fakeClock,
  issuerKey,
  testGuard,
  URL_CALLED,
  type DpopKey,
  type IssuerKey,
} from '../../test/guard/fixtures.js';
import type { GuardRefusal, GuardResult } from './guard.js';
import { JWS_ALGORITHMS as GUARD_ALGORITHMS } from '../dpop/jws.js';
import type { AuthorizationDecision } from './policy.js';
import type { RevocationHealth } from './revocation-source.js';

function refused(result: GuardResult): GuardRefusal {
  assert.equal(result.ok, false, 'expected a refusal');
  return result as GuardRefusal;
}

describe('Guard', () => {
  let key: IssuerKey;
  let client: DpopKey;
  const clock = fakeClock();

  before(async () => {
    key = await issuerKey();
    client = await dpopKey('ES256', clock.now);
  });

  test('accepts a bound token with a proof by its key and returns who is calling', async () => {
    const guard = testGuard(key, clock.now);
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const result = await guard.check(await dpopRequest(client, token));
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.equal(result.identity.sub, 'alice');
    assert.equal(result.identity.clientId, 'tether-cli');
    assert.deepEqual(result.identity.scopes, ['read', 'write']);
    assert.equal(result.identity.grantId, 'grant-1');
    assert.equal(result.identity.jkt, client.jkt);
  });

  test('without credentials: 401 with the DPoP challenge alone, no error code (RFC 6750 §3.1)', async () => {
    const guard = testGuard(key, clock.now);
    const r = refused(await guard.check({ method: 'GET', url: URL_CALLED, authorization: undefined, dpop: undefined }));
    assert.equal(r.status, 401);
    assert.equal(r.code, 'missing_token');
    assert.equal(r.headers['www-authenticate'], 'DPoP algs="ES256 ES384 EdDSA PS256 RS256"');
    assert.equal(r.headers['cache-control'], 'no-store');
    const basic = refused(await guard.check({ method: 'GET', url: URL_CALLED, authorization: 'Basic abc', dpop: undefined }));
    assert.equal(basic.code, 'missing_token');
    const withBearer = testGuard(key, clock.now, { allowBearer: true, realm: 'orders' });
    const both = refused(await withBearer.check({ method: 'GET', url: URL_CALLED, authorization: undefined, dpop: undefined }));
    assert.equal(both.wwwAuthenticate, 'DPoP realm="orders", algs="ES256 ES384 EdDSA PS256 RS256", Bearer realm="orders"');
  });

  test('a garbled Authorization header is a bad request', async () => {
    const guard = testGuard(key, clock.now);
    const r = refused(await guard.check({ method: 'GET', url: URL_CALLED, authorization: 'DPoP a b', dpop: undefined }));
    assert.equal(r.status, 400);
    assert.equal(r.error, 'invalid_request');
  });

  test('bad, expired, foreign and misaddressed tokens are invalid_token', async () => {
    const guard = testGuard(key, clock.now);
    const other = await issuerKey();
    const now = clock.now();
    const cases: [string, Promise<string> | string, string][] = [
      ['garbage', 'not.a.jwt', 'invalid_token'],
      ['expired', accessToken(key, { now: now - 700, jkt: client.jkt }), 'token_expired'],
      ['wrong audience', accessToken(key, { now, jkt: client.jkt, claims: { aud: 'https://other.example' } }), 'wrong_audience'],
      ['wrong issuer', accessToken(key, { now, jkt: client.jkt, claims: { iss: 'https://evil.example' } }), 'invalid_token'],
      ['unknown key', accessToken(other, { now, jkt: client.jkt }), 'invalid_token'],
      ['id token typ', accessToken(key, { now, jkt: client.jkt, header: { typ: 'JWT' } }), 'invalid_token'],
      ['no client_id', accessToken(key, { now, jkt: client.jkt, claims: { client_id: undefined } }), 'invalid_token'],
      ['not yet valid', accessToken(key, { now, jkt: client.jkt, claims: { nbf: now + 100 } }), 'invalid_token'],
      ['cnf without jkt', accessToken(key, { now, jkt: null, claims: { cnf: { 'x5t#S256': 'abc' } } }), 'invalid_token'],
    ];
    for (const [name, pending, code] of cases) {
      const r = refused(await guard.check(await dpopRequest(client, await pending)));
      assert.equal(r.status, 401, name);
      assert.equal(r.error, 'invalid_token', name);
      assert.equal(r.code, code, name);
      assert.match(r.wwwAuthenticate ?? '', /^DPoP error="invalid_token", error_description="[^"]+", algs="ES256/, name);
    }
  });

  test('a token stops being accepted the second it expires, cache or not', async () => {
    const local = fakeClock();
    const guard = testGuard(key, local.now);
    const holder = await dpopKey('ES256', local.now);
    const token = await accessToken(key, { now: local.now(), jkt: holder.jkt, ttl: 60 });
    assert.equal((await guard.check(await dpopRequest(holder, token))).ok, true);
    local.advance(59);
    assert.equal((await guard.check(await dpopRequest(holder, token))).ok, true);
    local.advance(1);
    assert.equal(refused(await guard.check(await dpopRequest(holder, token))).code, 'token_expired');
  });

  test('a bound token sent as Bearer is refused: that is what a copy without the key looks like', async () => {
    const guard = testGuard(key, clock.now, { allowBearer: true });
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const r = refused(await guard.check({ method: 'GET', url: URL_CALLED, authorization: `Bearer ${token}`, dpop: undefined }));
    assert.equal(r.code, 'bearer_for_bound_token');
    assert.match(r.wwwAuthenticate ?? '', /^DPoP error="invalid_token"/);
  });

  test('unbound tokens: refused by default, accepted as Bearer only when allowed, never with DPoP', async () => {
    const token = await accessToken(key, { now: clock.now(), jkt: null });
    const request = { method: 'GET', url: URL_CALLED, authorization: `Bearer ${token}`, dpop: undefined };
    assert.equal(refused(await testGuard(key, clock.now).check(request)).code, 'bearer_not_allowed');
    const lenient = testGuard(key, clock.now, { allowBearer: true });
    assert.equal((await lenient.check(request)).ok, true);
    const asDpop = refused(await lenient.check({ ...request, authorization: `DPoP ${token}` }));
    assert.equal(asDpop.code, 'dpop_for_unbound_token');
    assert.match(asDpop.wwwAuthenticate ?? '', /^Bearer error="invalid_token"/);
  });

  test('every proof defect is invalid_dpop_proof, and the proof is checked after the token', async () => {
    const guard = testGuard(key, clock.now);
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const stranger = await dpopKey('ES256', clock.now);
    const now = clock.now();
    const cases: [string, Promise<Awaited<ReturnType<typeof dpopRequest>>>][] = [
      ['no proof', dpopRequest(client, token).then((r) => ({ ...r, dpop: undefined }))],
      ['two proofs', dpopRequest(client, token).then((r) => ({ ...r, dpop: [String(r.dpop), String(r.dpop)] }))],
      ['joined proofs', dpopRequest(client, token).then((r) => ({ ...r, dpop: `${String(r.dpop)}, ${String(r.dpop)}` }))],
      ['other key', dpopRequest(stranger, token)],
      ['wrong htm', dpopRequest(client, token, { proofClaims: { htm: 'POST' } })],
      ['wrong htu', dpopRequest(client, token, { proofClaims: { htu: 'https://api.example/orders/8' } })],
      ['other host', dpopRequest(client, token, { proofClaims: { htu: 'https://evil.example/orders/7' } })],
      ['no ath', dpopRequest(client, token, { proofClaims: { ath: undefined } })],
      ['ath of another token', dpopRequest(client, token, { proofClaims: { ath: 'x'.repeat(43) } })],
      ['too old', dpopRequest(client, token, { proofClaims: { iat: now - 61 } })],
      ['from the future', dpopRequest(client, token, { proofClaims: { iat: now + 11 } })],
      ['no jti', dpopRequest(client, token, { proofClaims: { jti: undefined } })],
      ['wrong typ', dpopRequest(client, token, { proofHeader: { typ: 'JWT' } })],
      ['private key in header', dpopRequest(client, token, { proofHeader: { jwk: { ...client.jwk, d: 'AAAA' } } })],
      ['not a JWT', dpopRequest(client, token).then((r) => ({ ...r, dpop: 'abc.def' }))],
    ];
    for (const [name, pending] of cases) {
      const r = refused(await guard.check(await pending));
      assert.equal(r.status, 401, name);
      assert.equal(r.error, 'invalid_dpop_proof', `${name}: ${r.description}`);
      assert.match(r.wwwAuthenticate ?? '', /^DPoP error="invalid_dpop_proof"/, name);
    }
    // A signature that does not verify (the payload changed after signing).
    const good = await dpopRequest(client, token);
    const [h, p, s] = String(good.dpop).split('.');
    const forged = JSON.parse(Buffer.from(p as string, 'base64url').toString()) as Record<string, unknown>;
    forged['jti'] = 'forged-jti-0001';
    const tampered = { ...good, dpop: `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}` };
    assert.equal(refused(await guard.check(tampered)).description, 'The proof signature is invalid.');
  });

  test('htu ignores the query and normalizes case and default ports', async () => {
    const guard = testGuard(key, clock.now);
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const withQuery = await dpopRequest(client, token, { url: `${URL_CALLED}?page=2` });
    assert.equal((await guard.check(withQuery)).ok, true);
    const normalized = await dpopRequest(client, token, { proofClaims: { htu: 'HTTPS://API.example:443/orders/7?x=1' } });
    assert.equal((await guard.check(normalized)).ok, true);
  });

  test('a proof is usable once; its jti is not burnt by a refused request', async () => {
    const guard = testGuard(key, clock.now);
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const request = await dpopRequest(client, token);
    // Sent with the wrong method first: refused, and the jti must stay unclaimed.
    assert.equal(refused(await guard.check({ ...request, method: 'DELETE' })).code, 'invalid_proof');
    assert.equal((await guard.check(request)).ok, true);
    const replay = refused(await guard.check(request));
    assert.equal(replay.code, 'proof_replayed');
    assert.equal(replay.error, 'invalid_dpop_proof');
  });

  test('checkNow: a promise for a token not seen before, a plain answer once it is cached; same checks either way', async () => {
    const guard = testGuard(key, clock.now);
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const first = guard.checkNow(await dpopRequest(client, token));
    assert.ok(first instanceof Promise, 'the token signature is verified once, behind a key lookup');
    assert.equal((await first).ok, true);
    const second = guard.checkNow(await dpopRequest(client, token));
    assert.ok(!(second instanceof Promise), 'a cached token is answered synchronously');
    assert.equal(second.ok, true);
    // Synchronous, and still every per-request check: a replayed proof and a proof for another method are refused.
    const request = await dpopRequest(client, token);
    assert.equal((guard.checkNow(request) as GuardResult).ok, true);
    assert.equal(refused(guard.checkNow(request) as GuardResult).code, 'proof_replayed');
    assert.equal(refused(guard.checkNow({ ...(await dpopRequest(client, token)), method: 'POST' }) as GuardResult).code, 'invalid_proof');
    // The scheme is case-insensitive (RFC 9110 §11.1) on the cached path too, and a garbled header is still refused.
    assert.equal((await guard.checkNow(await dpopRequest(client, token, { scheme: 'dpop' }))).ok, true);
    assert.equal(refused(await guard.checkNow({ ...(await dpopRequest(client, token)), authorization: `DPoP ${token} x` })).code, 'malformed_authorization');
  });

  test('with server nonces, a proof without one gets use_dpop_nonce and the nonce', async () => {
    const nonces = new DpopNonces(clock.now);
    const guard = testGuard(key, clock.now, { nonces });
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    const first = refused(await guard.check(await dpopRequest(client, token)));
    assert.equal(first.status, 401);
    assert.equal(first.error, 'use_dpop_nonce');
    assert.match(first.wwwAuthenticate ?? '', /^DPoP error="use_dpop_nonce"/);
    const nonce = first.headers['dpop-nonce'];
    assert.ok(nonce);
    assert.equal((await guard.check(await dpopRequest(client, token, { proofClaims: { nonce } }))).ok, true);
  });

  test('insufficient scope is 403 with the scope needed in the challenge', async () => {
    const guard = testGuard(key, clock.now, { requiredScopes: ['read'] });
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt, claims: { scope: 'read' } });
    assert.equal((await guard.check(await dpopRequest(client, token))).ok, true);
    const r = refused(await guard.check(await dpopRequest(client, token), { scopes: ['write', 'admin'] }));
    assert.equal(r.status, 403);
    assert.equal(r.error, 'insufficient_scope');
    assert.match(r.wwwAuthenticate ?? '', /^DPoP error="insufficient_scope", error_description="[^"]+", scope="write admin"/);
  });

  test('revocation: revoked is 401; unknown revocation state fails closed with 503 and Retry-After', async () => {
    let health: RevocationHealth = { fresh: true };
    let revoked = false;
    const guard = testGuard(key, clock.now, { revocations: { health: () => health, isRevoked: () => revoked } });
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
    assert.equal((await guard.check(await dpopRequest(client, token))).ok, true);
    revoked = true;
    const r = refused(await guard.check(await dpopRequest(client, token)));
    assert.equal(r.code, 'revoked');
    assert.equal(r.status, 401);
    health = { fresh: false, reason: 'no word from the authorization server for 12 s', retryAfterSeconds: 5 };
    const closed = refused(await guard.check(await dpopRequest(client, token)));
    assert.equal(closed.status, 503);
    assert.equal(closed.code, 'revocation_unknown');
    assert.equal(closed.error, 'temporarily_unavailable');
    assert.equal(closed.headers['retry-after'], '5');
    assert.match(closed.description, /no word from the authorization server for 12 s/);
    // Still 401 for a request without a token: the client must learn it needs one.
    assert.equal(refused(await guard.check({ method: 'GET', url: URL_CALLED, authorization: undefined, dpop: undefined })).status, 401);
  });

  describe('request-time policy', () => {
    test('deny is 403 insufficient_scope with the reason, in the body and the challenge; a throwing policy refuses', async () => {
      let decision: AuthorizationDecision = { decision: 'deny', reason: 'Not on \u201Cweekends\u201D.', policies: ['no-weekends'] };
      let fail = false;
      const guard = testGuard(key, clock.now, {
        policy: {
          authorize: () => {
            if (fail) throw new Error('cedar exploded');
            return decision;
          },
        },
      });
      const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
      const r = refused(await guard.check(await dpopRequest(client, token)));
      assert.equal(r.status, 403);
      assert.equal(r.error, 'insufficient_scope');
      assert.equal(r.description, "Not on 'weekends'.", 'typographic quotes are spelled plainly (RFC 6750 §3)');
      assert.equal(r.wwwAuthenticate, `DPoP error="insufficient_scope", error_description="Not on 'weekends'.", algs="${GUARD_ALGORITHMS.join(' ')}"`);
      decision = { decision: 'allow', reason: 'ok' };
      assert.equal((await guard.check(await dpopRequest(client, token))).ok, true);
      fail = true;
      assert.equal(refused(await guard.check(await dpopRequest(client, token))).code, 'policy_error');
    });

    test('policy sees the verified identity and the request context', async () => {
      const seen: unknown[] = [];
      const guard = testGuard(key, clock.now, {
        policy: {
          authorize: (identity, context) => {
            seen.push({ sub: identity.sub, grant: identity.grantId, ...context });
            return { decision: 'allow', reason: 'ok' };
          },
        },
      });
      const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
      const request = { ...(await dpopRequest(client, token, { url: `${URL_CALLED}?x=1` })), route: '/orders/:id' };
      assert.equal((await guard.check(request)).ok, true);
      assert.deepEqual(seen, [
        { sub: 'alice', grant: 'grant-1', method: 'GET', path: '/orders/7', route: '/orders/:id', ip: '192.0.2.10', userAgent: 'test', now: clock.now() },
      ]);
    });

    test('decisions are reused only until their own end and never past the token, per token, route and context', async () => {
      const local = fakeClock();
      const holder = await dpopKey('ES256', local.now);
      let calls = 0;
      const guard = testGuard(key, local.now, {
        policy: {
          authorize: (_identity, context) => {
            calls++;
            return { decision: 'allow', reason: 'ok', cacheableUntil: context.now + 30 };
          },
        },
      });
      const token = await accessToken(key, { now: local.now(), jkt: holder.jkt, ttl: 45 });
      const check = async (extra: Record<string, unknown> = {}) => {
        const result = await guard.check({ ...(await dpopRequest(holder, token)), ...extra });
        assert.equal(result.ok, true);
      };
      await check();
      await check();
      assert.equal(calls, 1, 'the second request reuses the decision');
      await check({ route: '/other' });
      await check({ method: 'GET', ip: '198.51.100.1' });
      assert.equal(calls, 3, 'another route or address is decided anew');
      local.advance(30);
      await check();
      assert.equal(calls, 4, 'decided anew when the decision ends');
      // The decision made at +30 s would last to +60 s, but the token ends at +45 s.
      const other = await accessToken(key, { now: local.now(), jkt: holder.jkt });
      await guard.check(await dpopRequest(holder, other));
      assert.equal(calls, 5, 'another token of the same grant is decided anew (its claims may differ)');
    });

    test('a decision without cacheableUntil is not kept', async () => {
      let calls = 0;
      const guard = testGuard(key, clock.now, {
        policy: {
          authorize: () => {
            calls++;
            return { decision: 'allow', reason: 'ok' };
          },
        },
      });
      const token = await accessToken(key, { now: clock.now(), jkt: client.jkt });
      await guard.check(await dpopRequest(client, token));
      await guard.check(await dpopRequest(client, token));
      assert.equal(calls, 2);
    });
  });

  test('the audience may be one of several', async () => {
    const guard = testGuard(key, clock.now, { audience: ['https://a.example', AUDIENCE] });
    const token = await accessToken(key, { now: clock.now(), jkt: client.jkt, claims: { aud: ['https://x.example', AUDIENCE] } });
    assert.equal((await guard.check(await dpopRequest(client, token))).ok, true);
  });
});
