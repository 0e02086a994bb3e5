// The guard keeps verified access tokens (src/guard/access-token.ts), looked up by the end of their signature and
// matched on the whole text. Played over real HTTP (node:http adapter): a forged token that reuses a cached token's
// signature, whatever it claims, is verified in full and refused; it does not displace the real entry; and a cached
// token is still checked for revocation on every request.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { withGuard } from '../../src/guard/adapters/node-http.js';
import { RevocationList } from '../../src/guard/revocation-list.js';
import type { Guard } from '../../src/guard/guard.js';
import { accessToken, dpopKey, issuerKey, testGuard, type DpopKey, type IssuerKey } from './fixtures.js';
import { listen } from './support.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const segments = (token: string) => token.split('.') as [string, string, string];
const claimsOf = (token: string) => JSON.parse(Buffer.from(segments(token)[1], 'base64url').toString('utf8')) as Record<string, unknown>;

describe('guard token cache: forged tokens reusing a cached signature (over HTTP)', () => {
  let key: IssuerKey;
  let victim: DpopKey;
  let attacker: DpopKey;
  let guard: Guard;
  let server: Server;
  let base: string;
  const revocations = new RevocationList();
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    key = await issuerKey();
    victim = await dpopKey();
    attacker = await dpopKey();
    guard = testGuard(key, () => Date.now() / 1000, {
      revocations: { health: () => ({ fresh: true }), isRevoked: (t) => revocations.covers(t, Date.now() / 1000) },
    });
    server = createServer(withGuard(guard, (_req, res, who) => res.end(JSON.stringify({ sub: who.sub, jkt: who.jkt, scopes: who.scopes }))));
    base = `http://127.0.0.1:${await listen(server)}/orders`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** One request with `token` and a fresh proof by `holder`, as the client sends it. */
  async function call(token: string, holder: DpopKey): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(base, {
      headers: { authorization: `DPoP ${token}`, dpop: await holder.proof('GET', base, { ath: ath(token) }) },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  test('a token with the same claims in other bytes, or other claims, and the cached signature is refused', async () => {
    const real = await accessToken(key, { now: now(), jkt: victim.jkt, claims: { aud: 'https://api.example', scope: 'read' } });
    assert.equal((await call(real, victim)).status, 200, 'the real token is accepted and now cached');
    const [header, , signature] = segments(real);
    const claims = claimsOf(real);
    const forgeries: [string, string][] = [
      // The very claims, serialized with a space: another byte string, the same meaning.
      ['same claims, re-encoded', `${header}.${Buffer.from(JSON.stringify(claims, null, 1)).toString('base64url')}.${signature}`],
      // The attacker's own key in cnf, so its own proofs would match the binding.
      ['cnf rebound to the attacker', `${header}.${b64({ ...claims, cnf: { jkt: attacker.jkt } })}.${signature}`],
      ['more scope', `${header}.${b64({ ...claims, cnf: { jkt: attacker.jkt }, scope: 'read write admin' })}.${signature}`],
      ['another user', `${header}.${b64({ ...claims, cnf: { jkt: attacker.jkt }, sub: 'root' })}.${signature}`],
      ['another header', `${b64({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, x: 1 })}.${segments(real)[1]}.${signature}`],
    ];
    for (const [name, forged] of forgeries) {
      const answer = await call(forged, attacker);
      assert.equal(answer.status, 401, `${name}: refused`);
      assert.equal(answer.body['error'], 'invalid_token', `${name}: as an invalid token`);
      assert.match(String(answer.body['error_description']), /signature/, `${name}: by its signature`);
    }
    // The re-encoded copy again, now with the victim's proofs: the victim's key does not make it valid either.
    assert.equal((await call(forgeries[0]![1], victim)).status, 401);
    // None of them displaced the real entry: the real token still works, from the cache.
    const sizeBefore = guard.stats().tokens;
    const again = await call(real, victim);
    assert.equal(again.status, 200);
    assert.equal(again.body['jkt'], victim.jkt);
    assert.deepEqual(again.body['scopes'], ['read']);
    assert.equal(guard.stats().tokens, sizeBefore, 'no forgery was cached');
  });

  test('a cached token is checked for revocation on every request', async () => {
    const token = await accessToken(key, { now: now() - 1, jkt: victim.jkt, claims: { sid: 'grant-cut' } });
    assert.equal((await call(token, victim)).status, 200);
    assert.equal((await call(token, victim)).status, 200, 'served from the cache');
    revocations.apply({ seq: 1, kind: 'grant', value: 'grant-cut', issuedBefore: now(), issuedBeforeMs: Date.now(), relevantUntil: now() + 3600 });
    const refused = await call(token, victim);
    assert.equal(refused.status, 401);
    assert.equal(refused.body['error'], 'invalid_token');
    assert.match(String(refused.body['error_description']), /revoked/);
  });

  test('a replayed proof is refused with a cached token too', async () => {
    const token = await accessToken(key, { now: now(), jkt: victim.jkt, claims: { sid: 'grant-replay' } });
    const proof = await victim.proof('GET', base, { ath: ath(token) });
    const send = () => fetch(base, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    assert.equal((await send()).status, 200);
    const replay = await send();
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as Record<string, unknown>)['error'], 'invalid_dpop_proof');
  });
});
