// One table of RFC 9449 §4.3 proof checks, played against the token endpoint, the guard (the server's guarded
// demo API) and the gateway (createGateway over HTTP, with a recording upstream): every one must give the same
// verdict, since they share one verifier (src/dpop/proof-verifier.ts).
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { JWK } from 'jose';
import { withGuard } from '../../src/guard/adapters/node-http.js';
import { DpopNonces } from '../../src/dpop/nonce.js';
import { jwkThumbprint } from '../../src/dpop/jws.js';
import { listen } from '../guard/support.js';
import type { DpopKey } from '../support/dpop.js';
import { decide } from '../support/device-flow.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { startGateway, type InProcessGateway } from '../support/gateway.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { login } from '../support/tokens.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A client key that signs anything, including headers and claims no library would produce. */
function rawKey(): DpopKey & { raw(header: Record<string, unknown>, claims: Record<string, unknown>): string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const raw = (header: Record<string, unknown>, claims: Record<string, unknown>) => {
    const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk, ...header })}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  return {
    jwk,
    jkt: jwkThumbprint(jwk as Record<string, unknown>) as string,
    raw,
    proof: async (htm, htu, extra = {}, header = {}) => raw(header, { htm, htu, jti: randomUUID(), iat: now(), ...extra }),
  };
}

type Verdict = 'accept' | 'invalid_dpop_proof';

/** Where a proof is judged: how to send it, and what a proof for it names. */
interface Target {
  name: string;
  /** The last DPoP-Nonce the target sent (nonce section). */
  lastNonce?: string;
  htm: string;
  htu: string;
  /** The access token's hash, when the target takes one (not the token endpoint). */
  ath?: string;
  send(proof: string): Promise<{ status: number; error: string | undefined }>;
}

interface Row {
  name: string;
  expect: Verdict;
  /** The proof for a target, from a fresh set of valid claims. */
  proof(key: ReturnType<typeof rawKey>, target: Target): string;
  /** When set, the row applies only where an access token accompanies the proof (RFC 9449 §4.3 check 12). */
  withTokenOnly?: boolean;
  /** Sends the proof twice; the verdict is the second answer's. */
  twice?: boolean;
}

const claims = (target: Target, extra: Record<string, unknown> = {}) => ({
  htm: target.htm,
  htu: target.htu,
  iat: now(),
  jti: randomUUID(),
  ...(target.ath ? { ath: target.ath } : {}),
  ...extra,
});
const withoutClaim = (target: Target, name: string) => {
  const all: Record<string, unknown> = claims(target);
  delete all[name];
  return all;
};

const ROWS: Row[] = [
  { name: 'a valid proof', expect: 'accept', proof: (k, t) => k.raw({}, claims(t)) },
  { name: 'htu with a query and a fragment (ignored)', expect: 'accept', proof: (k, t) => k.raw({}, claims(t, { htu: `${t.htu}?a=1#f` })) },
  { name: 'htu with upper-case scheme and host', expect: 'accept', proof: (k, t) => k.raw({}, claims(t, { htu: t.htu.replace('http://127.0.0.1', 'HTTP://127.0.0.1') })) },
  { name: 'an unexpired exp', expect: 'accept', proof: (k, t) => k.raw({}, claims(t, { exp: now() + 30 })) },
  { name: 'typ DPoP+JWT', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ typ: 'DPoP+JWT' }, claims(t)) },
  { name: 'typ JWT', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ typ: 'JWT' }, claims(t)) },
  { name: 'no typ', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ typ: undefined }, claims(t)) },
  {
    name: 'alg none',
    expect: 'invalid_dpop_proof',
    proof: (k, t) => `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: k.jwk })}.${b64(claims(t))}.`,
  },
  {
    name: 'alg HS256 with a symmetric jwk',
    expect: 'invalid_dpop_proof',
    proof: (_k, t) => {
      const input = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${b64(claims(t))}`;
      return `${input}.${createHmac('sha256', 'secret').update(input).digest('base64url')}`;
    },
  },
  { name: 'a jwk with its private part', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ jwk: { ...k.jwk, d: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }, claims(t)) },
  { name: 'no jwk', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ jwk: undefined }, claims(t)) },
  { name: 'a critical extension', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({ crit: ['exp'] }, claims(t)) },
  { name: 'a bad signature', expect: 'invalid_dpop_proof', proof: (k, t) => `${k.raw({}, claims(t)).slice(0, -6)}AAAAAA` },
  { name: 'signed by another key than its jwk', expect: 'invalid_dpop_proof', proof: (k, t) => rawKey().raw({ jwk: k.jwk }, claims(t)) },
  { name: 'no jti', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, withoutClaim(t, 'jti')) },
  { name: 'a short jti ("abc")', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { jti: 'abc' })) },
  { name: 'htm of another method', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { htm: t.htm === 'GET' ? 'POST' : 'GET' })) },
  { name: 'htm in lower case', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { htm: t.htm.toLowerCase() })) },
  { name: 'htu of another path', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { htu: `${t.htu}/other` })) },
  { name: 'htu of another host', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { htu: t.htu.replace('127.0.0.1', 'evil.example') })) },
  { name: 'no htu', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, withoutClaim(t, 'htu')) },
  { name: 'iat two minutes old', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { iat: now() - 120 })) },
  { name: 'iat a minute ahead', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { iat: now() + 60 })) },
  { name: 'no iat', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, withoutClaim(t, 'iat')) },
  { name: 'an expired exp', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t, { exp: now() - 1 })) },
  { name: 'ath of another token', expect: 'invalid_dpop_proof', withTokenOnly: true, proof: (k, t) => k.raw({}, claims(t, { ath: 'x'.repeat(43) })) },
  { name: 'no ath', expect: 'invalid_dpop_proof', withTokenOnly: true, proof: (k, t) => k.raw({}, withoutClaim(t, 'ath')) },
  { name: 'a payload that is not JSON', expect: 'invalid_dpop_proof', proof: (k, t) => k.raw({}, claims(t)).replace(/\.[^.]+\./, '.bm90IGpzb24.') },
  { name: 'a replayed jti', expect: 'invalid_dpop_proof', twice: true, proof: (k, t) => k.raw({}, claims(t)) },
];

describe('one verdict for every DPoP proof: token endpoint, guard and gateway', () => {
  let server: TestServer;
  let running: InProcessGateway;
  let targets: Target[];
  const key = rawKey();
  let refreshToken: string;

  before(async () => {
    server = await startServer();
    running = await startGateway(server);
    const gatewayBase = running.base;
    const [session] = await Promise.all([login(server, { key }), running.connected.stream.ready(5_000)]);
    refreshToken = session.refreshToken;
    const ath = createHash('sha256').update(session.accessToken).digest('base64url');
    const resource = (name: string, url: string): Target => ({
      name,
      htm: 'GET',
      htu: url,
      ath,
      async send(proof) {
        const response = await fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof } });
        const body = (await response.json()) as Record<string, unknown>;
        return { status: response.status, error: response.status === 200 ? undefined : String(body['error']) };
      },
    });
    targets = [
      {
        name: 'token endpoint',
        htm: 'POST',
        htu: `${server.issuer}/token`,
        async send(proof) {
          const form = { grant_type: 'refresh_token', client_id: 'tether-cli', refresh_token: refreshToken };
          const reply = await postForm(`${server.issuer}/token`, form, { dpop: proof });
          // An accepted proof rotates the refresh token: carry on with the new one.
          if (reply.status === 200) refreshToken = String(reply.body['refresh_token']);
          return { status: reply.status, error: reply.status === 200 ? undefined : String(reply.body['error']) };
        },
      },
      resource('guard', `${server.issuer}/api/whoami`),
      resource('gateway', `${gatewayBase}/orders/7`),
    ];
  });

  after(async () => {
    await running.close();
    await server.close();
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const verdicts: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const target of targets) {
        const proof = row.proof(key, target);
        let reply = await target.send(proof);
        if (row.twice) {
          assert.equal(reply.status, 200, `${target.name}: the first use is accepted`);
          reply = await target.send(proof);
        }
        verdicts[target.name] = reply.status === 200 ? 'accept' : `${reply.status} ${reply.error}`;
        const applies = !row.withTokenOnly || target.ath !== undefined;
        const refusal = target.name === 'token endpoint' ? '400 invalid_dpop_proof' : '401 invalid_dpop_proof';
        expected[target.name] = !applies || row.expect === 'accept' ? 'accept' : refusal;
      }
      assert.deepEqual(verdicts, expected);
    });
  }

  test('a refused proof never reached the upstream', () => {
    const accepted = ROWS.filter((r) => r.expect === 'accept').length + ROWS.filter((r) => r.twice).length;
    assert.equal(running.upstream.seen.length, accepted);
  });
});

describe('one verdict for nonces (RFC 9449 §8, §9): token endpoint, guard and gateway, all demanding them', () => {
  let server: TestServer;
  let running: InProcessGateway;
  let guarded: Server;
  const key = rawKey();
  let targets: Target[];

  before(async () => {
    server = await startServer({ dpop: { require_nonce: true } });
    running = await startGateway(server, { guard: { nonces: new DpopNonces(() => now()) } });
    const gatewayBase = running.base;
    guarded = createServer(withGuard(running.connected.guard, (_req, res) => res.end('{}'), {}));
    const guardedBase = `http://127.0.0.1:${await listen(guarded)}`;

    // A login by hand: the token endpoint answers the first proof with a nonce, the second carries it.
    const deviceUrl = `${server.issuer}/device_authorization`;
    const tokenUrl = `${server.issuer}/token`;
    const codes = await postForm(deviceUrl, { client_id: 'tether-cli' }, { dpop: key.raw({}, { htm: 'POST', htu: deviceUrl, iat: now(), jti: randomUUID() }) });
    assert.equal(codes.status, 200, JSON.stringify(codes.body));
    await Promise.all([decide(server, String(codes.body['user_code'])), running.connected.stream.ready(5_000)]);
    const form = { grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: String(codes.body['device_code']) };
    const first = await postForm(tokenUrl, form, { dpop: key.raw({}, { htm: 'POST', htu: tokenUrl, iat: now(), jti: randomUUID() }) });
    assert.equal(first.body['error'], 'use_dpop_nonce');
    const nonce = String(first.headers.get('dpop-nonce'));
    const tokens = await postForm(tokenUrl, form, { dpop: key.raw({}, { htm: 'POST', htu: tokenUrl, iat: now(), jti: randomUUID(), nonce }) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const accessToken = String(tokens.body['access_token']);
    let refreshToken = String(tokens.body['refresh_token']);
    const ath = createHash('sha256').update(accessToken).digest('base64url');

    const resource = (name: string, url: string): Target => ({
      name,
      htm: 'GET',
      htu: url,
      ath,
      async send(proof) {
        const response = await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
        const body = (await response.json()) as Record<string, unknown>;
        const nonceHeader = response.headers.get('dpop-nonce');
        if (nonceHeader) this.lastNonce = nonceHeader;
        return { status: response.status, error: response.status === 200 ? undefined : String(body['error']) };
      },
    });
    targets = [
      {
        name: 'token endpoint',
        htm: 'POST',
        htu: tokenUrl,
        lastNonce: nonce,
        async send(proof) {
          const reply = await postForm(tokenUrl, { grant_type: 'refresh_token', client_id: 'tether-cli', refresh_token: refreshToken }, { dpop: proof });
          if (reply.status === 200) refreshToken = String(reply.body['refresh_token']);
          const nonceHeader = reply.headers.get('dpop-nonce');
          if (nonceHeader) this.lastNonce = nonceHeader;
          return { status: reply.status, error: reply.status === 200 ? undefined : String(reply.body['error']) };
        },
      },
      resource('guard', `${guardedBase}/orders/7`),
      resource('gateway', `${gatewayBase}/orders/7`),
    ];
  });

  after(async () => {
    guarded.closeAllConnections();
    await new Promise<void>((resolve) => guarded.close(() => resolve()));
    await running.close();
    await server.close();
  });

  const verdictsFor = async (nonceOf: (target: Target) => string | undefined) => {
    const verdicts: Record<string, string> = {};
    for (const target of targets) {
      const nonce = nonceOf(target);
      const reply = await target.send(key.raw({}, claims(target, nonce === undefined ? {} : { nonce })));
      verdicts[target.name] = reply.status === 200 ? 'accept' : `${reply.status} ${reply.error}`;
    }
    return verdicts;
  };
  const refusedEverywhere = { 'token endpoint': '400 use_dpop_nonce', guard: '401 use_dpop_nonce', gateway: '401 use_dpop_nonce' };

  test('no nonce: refused with use_dpop_nonce and a fresh nonce', async () => {
    for (const target of targets) target.lastNonce = undefined;
    assert.deepEqual(await verdictsFor(() => undefined), refusedEverywhere);
    for (const target of targets) assert.ok(target.lastNonce, `${target.name} sent a DPoP-Nonce`);
  });

  test('a nonce the server never issued: refused the same way', async () => {
    assert.deepEqual(await verdictsFor(() => 'bm90LWEtbm9uY2U'), refusedEverywhere);
  });

  test('the nonce each one gave: accepted', async () => {
    assert.deepEqual(await verdictsFor((t) => t.lastNonce), { 'token endpoint': 'accept', guard: 'accept', gateway: 'accept' });
  });
});
