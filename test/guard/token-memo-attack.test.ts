// The guard remembers, with each cached token, what its last request found (src/guard/token-memo.ts): the proof
// header by its exact text, "not revoked" at a revocation version, the last policy decision with its facts; and it
// keeps proof ids in an open-addressing table (src/guard/proof-ids.ts). Played over real HTTP (node:http adapter):
// none of these lets through a proof, a token or a request that the guard without them would refuse.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { withGuard } from '../../src/guard/adapters/node-http.js';
import { RevocationList } from '../../src/guard/revocation-list.js';
import type { Guard } from '../../src/guard/guard.js';
import type { AuthorizationDecision, RequestContext } from '../../src/guard/policy.js';
import type { VerifiedIdentity } from '../../src/guard/access-token.js';
import { accessToken, dpopKey, issuerKey, testGuard, type DpopKey, type IssuerKey } from './fixtures.js';
import { listen } from './support.js';

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('guard per-token memo and proof-id table: attacks over HTTP', () => {
  let key: IssuerKey;
  let victim: DpopKey;
  let attacker: DpopKey;
  let guard: Guard;
  let server: Server;
  let origin: string;
  const revocations = new RevocationList();
  const decisions: { who: string; path: string; method: string }[] = [];
  let generation = 1;

  before(async () => {
    key = await issuerKey();
    victim = await dpopKey();
    attacker = await dpopKey();
    // Policy: /admin only for root; DELETE for nobody. Decisions reusable for an hour, keyed by the path.
    const authorize = (identity: VerifiedIdentity, context: RequestContext): AuthorizationDecision => {
      decisions.push({ who: identity.sub, path: context.path, method: context.method });
      const allowed = context.method !== 'DELETE' && (!context.path.startsWith('/admin') || identity.sub === 'root');
      return { decision: allowed ? 'allow' : 'deny', reason: allowed ? 'ok' : 'not for you', cacheableUntil: context.now + 3600 };
    };
    guard = testGuard(key, () => Date.now() / 1000, {
      revocations: {
        health: () => ({ fresh: true }),
        isRevoked: (t) => revocations.covers(t, Date.now() / 1000),
        version: () => revocations.version,
      },
      policy: { authorize, contextKey: (c) => c.path, routeMatters: false, generation: () => generation },
    });
    server = createServer(withGuard(guard, (_req, res, who) => res.end(JSON.stringify({ sub: who.sub, jkt: who.jkt }))));
    origin = `http://127.0.0.1:${await listen(server)}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function send(token: string, proof: string, path = '/orders', method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${origin}${path}`, { method, headers: { authorization: `DPoP ${token}`, dpop: proof } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** One request with `token` and a fresh proof by `holder` (header fields overridable), as a client sends it. */
  async function call(token: string, holder: DpopKey, path = '/orders', method = 'GET', header: Record<string, unknown> = {}) {
    return send(token, await holder.proof(method, `${origin}${path}`, { ath: ath(token) }, header), path, method);
  }

  test("a stolen token with a proof that copies the victim's remembered header is refused: every signature is checked", async () => {
    const token = await accessToken(key, { now: now(), jkt: victim.jkt });
    assert.equal((await call(token, victim)).status, 200, 'the victim, header now remembered with the token');
    assert.equal((await call(token, victim)).status, 200, 'and again, from the memo');
    // The attacker signs with its own key under the victim's header, byte for byte: the memo's very text.
    const forged = await attacker.proof('GET', `${origin}/orders`, { ath: ath(token) }, { jwk: victim.jwk });
    assert.equal(forged.split('.')[0], (await victim.proof('GET', `${origin}/orders`)).split('.')[0], 'the same header text');
    const answer = await send(token, forged);
    assert.equal(answer.status, 401);
    assert.equal(answer.body['error'], 'invalid_dpop_proof');
    assert.match(String(answer.body['error_description']), /signature/);
    // With its own header, the attacker's key is not the one the token is bound to.
    const own = await call(token, attacker);
    assert.equal(own.status, 401);
    assert.match(String(own.body['error_description']), /bound to/);
    // And the victim is still served, from the memo the attacker could not change.
    assert.equal((await call(token, victim)).status, 200);
  });

  test('behind a remembered header, the rest of the proof is still checked strictly: no junk, no other token, no other URL', async () => {
    // A client key held raw here, to sign texts no client library would produce.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
    const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
    const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
    const signed = (input: string) => `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    const claims = (token: string, extra: Record<string, unknown> = {}) => ({ htm: 'GET', htu: `${origin}/orders`, iat: now(), jti: randomUUID(), ath: ath(token), ...extra });
    const token = await accessToken(key, { now: now(), jkt });
    const other = await accessToken(key, { now: now(), jkt });
    assert.equal((await send(token, signed(`${header}.${b64(claims(token))}`))).status, 200, 'header now remembered');
    // Characters the base64url decoder would skip, after the remembered header, validly signed: another text for
    // the same claims, refused as malformed (one proof, one meaning), not decoded around.
    const payload = b64(claims(token));
    for (const junk of [`${payload}=`, `${payload.slice(0, 10)}+${payload.slice(10)}`, `${payload.slice(0, 10)}/${payload.slice(10)}`]) {
      const answer = await send(token, signed(`${header}.${junk}`));
      assert.equal(answer.status, 401, junk);
      assert.equal(answer.body['error'], 'invalid_dpop_proof');
      assert.match(String(answer.body['error_description']), /compact JWT/);
    }
    // A proof made for the other token (its ath), or for another URL, under the remembered header.
    assert.match(String((await send(token, signed(`${header}.${b64(claims(other))}`))).body['error_description']), /ath/);
    assert.match(String((await send(token, signed(`${header}.${b64(claims(token, { htu: `${origin}/elsewhere` }))}`))).body['error_description']), /htu/);
    // The clean text of those claims is fine: none of the refusals above used its id up.
    assert.equal((await send(token, signed(`${header}.${payload}`))).status, 200);
  });

  test('a statement arriving after "not revoked" was remembered applies to the very next request', async () => {
    const token = await accessToken(key, { now: now() - 1, jkt: victim.jkt, claims: { sid: 'grant-memo' } });
    assert.equal((await call(token, victim)).status, 200);
    assert.equal((await call(token, victim)).status, 200, '"not revoked" remembered at this version');
    // Another grant's revocation moves the version: this token is asked about again, and is still fine.
    revocations.apply({ seq: 10, kind: 'grant', value: 'grant-someone-else', issuedBefore: now(), issuedBeforeMs: Date.now(), relevantUntil: now() + 3600 });
    assert.equal((await call(token, victim)).status, 200);
    revocations.apply({ seq: 11, kind: 'grant', value: 'grant-memo', issuedBefore: now(), issuedBeforeMs: Date.now(), relevantUntil: now() + 3600 });
    const refused = await call(token, victim);
    assert.equal(refused.status, 401);
    assert.equal(refused.body['error'], 'invalid_token');
    assert.match(String(refused.body['error_description']), /revoked/);
    assert.equal((await call(token, victim)).status, 401, 'and stays refused');
  });

  test('a remembered allow is not reused for another path, another method, another token, or after a policy change', async () => {
    const alice = await accessToken(key, { now: now(), jkt: victim.jkt, claims: { sub: 'alice' } });
    const root = await accessToken(key, { now: now(), jkt: attacker.jkt, claims: { sub: 'root' } });
    assert.equal((await call(root, attacker, '/admin/users')).status, 200, 'root may, and that allow is remembered for its token');
    assert.equal((await call(alice, victim, '/orders')).status, 200, "alice's allow for /orders, remembered");
    const admin = await call(alice, victim, '/admin/users');
    assert.equal(admin.status, 403, 'not the allow remembered for /orders, nor root\'s for /admin');
    assert.equal(admin.body['error'], 'insufficient_scope');
    assert.equal((await call(alice, victim, '/orders', 'DELETE')).status, 403, 'another method');
    assert.equal((await call(alice, victim, '/orders')).status, 200, 'back to the remembered facts');
    // The policy changes (a reload bumps the generation): nothing remembered before is reused.
    const asked = decisions.length;
    generation++;
    assert.equal((await call(alice, victim, '/orders')).status, 200);
    assert.equal(decisions.length, asked + 1, 'asked again under the new generation');
    // clearDecisions() forgets the remembered ones too.
    guard.clearDecisions();
    assert.equal((await call(alice, victim, '/orders')).status, 200);
    assert.equal(decisions.length, asked + 2, 'asked again after clearDecisions()');
    assert.equal((await call(alice, victim, '/orders')).status, 200);
    assert.equal(decisions.length, asked + 2, 'and the new answer is remembered');
  });

  test('a replay is refused after the proof-id table has been rebuilt under it', async () => {
    const token = await accessToken(key, { now: now(), jkt: victim.jkt });
    const first = await victim.proof('GET', `${origin}/orders`, { ath: ath(token) });
    assert.equal((await send(token, first)).status, 200);
    // 2,000 more proofs: the table starts at 1,024 slots and is rebuilt when three quarters are used, twice here.
    for (let i = 0; i < 2000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => call(token, victim)));
      assert.ok(batch.every((r) => r.status === 200));
    }
    const replay = await send(token, first);
    assert.equal(replay.status, 401);
    assert.match(String(replay.body['error_description']), /already used/);
  });
});
