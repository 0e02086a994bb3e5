import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify, importJWK, type JWK } from 'jose';
import { deviceAuthorizationRequest, pollDeviceAuthorization, processDeviceAuthorizationResponse, type DeviceAuthorization } from './device-flow.js';
import type { ServerMetadata } from './discovery.js';
import { InMemoryClientKey } from './dpop-key.js';
import { isClientError } from './errors.js';
import { NonceCache } from './oauth-http.js';

const metadata: ServerMetadata = {
  issuer: 'https://as.example',
  device_authorization_endpoint: 'https://as.example/device_authorization',
  token_endpoint: 'https://as.example/token',
};

type Reply = { status: number; body: Record<string, unknown>; headers?: Record<string, string> } | 'network-error';

/** A token endpoint that answers from a script, and a clock that only moves when the poller sleeps. */
function scripted(replies: Reply[]) {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const proofs: string[] = [];
  const fetchFn: typeof fetch = async (_url, init) => {
    proofs.push(new Headers(init?.headers).get('dpop') ?? '');
    const next = replies.shift();
    if (!next) throw new Error('the script ran out');
    if (next === 'network-error') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'content-type': 'application/json', ...next.headers } });
  };
  return {
    fetchFn,
    sleeps,
    proofs,
    options: {
      clientId: 'tether-cli',
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms / 1000);
        now += ms / 1000;
      },
    },
  };
}

const pending: Reply = { status: 400, body: { error: 'authorization_pending' } };
const slowDown: Reply = { status: 400, body: { error: 'slow_down' } };
const tokens: Reply = { status: 200, body: { access_token: 'at', token_type: 'DPoP', expires_in: 600, refresh_token: 'tether_rt_x', scope: 'read' } };

function authorization(overrides: Partial<DeviceAuthorization> = {}): DeviceAuthorization {
  return { deviceCode: 'dc', userCode: 'BCDF-GHJK', verificationUri: 'https://as.example/device', expiresIn: 300, interval: 5, ...overrides };
}

describe('polling (RFC 8628 §3.4, §3.5)', () => {
  test('waits the interval between polls and adds 5 seconds for every slow_down, for good', async () => {
    const key = (await InMemoryClientKey.generate({ extractable: false })).key;
    const s = scripted([pending, slowDown, pending, slowDown, tokens]);
    const result = await pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization(), s.options);
    assert.deepEqual(s.sleeps, [5, 5, 10, 10, 15]);
    assert.equal(result.accessToken, 'at');
    assert.equal(result.refreshToken, 'tether_rt_x');
    assert.equal(result.accessTokenExpiresAt, 1_000_000 + 45 + 600);
  });

  test('without an interval from the server, waits 5 seconds (§3.2)', () => {
    const body = { device_code: 'dc', user_code: 'BCDF-GHJK', verification_uri: 'https://as.example/device', expires_in: 300 };
    const parsed = processDeviceAuthorizationResponse(body);
    assert.equal(parsed.interval, 5);
    assert.equal(parsed.verificationUriComplete, undefined);
    // A link we print and may open must be a web page.
    assert.throws(() => processDeviceAuthorizationResponse({ ...body, verification_uri: 'javascript:alert(1)' }), /verification_uri/);
  });

  test('every poll carries a fresh proof by the bound key, for POST to the token endpoint', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const s = scripted([pending, tokens]);
    await pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 1 }), s.options);
    assert.equal(s.proofs.length, 2);
    const jtis = new Set<unknown>();
    for (const proof of s.proofs) {
      const header = decodeProtectedHeader(proof);
      assert.equal(header.typ, 'dpop+jwt');
      assert.equal(header.alg, 'ES256');
      assert.ok(!('d' in (header.jwk as JWK)), 'only the public key travels');
      const { payload } = await jwtVerify(proof, await importJWK(header.jwk as JWK, 'ES256'));
      assert.equal(payload['htm'], 'POST');
      assert.equal(payload['htu'], metadata.token_endpoint);
      jtis.add(payload.jti);
    }
    assert.equal(jtis.size, 2, 'a new jti each time');
  });

  test('access_denied and expired_token end the poll with their own codes', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    for (const [error, code] of [['access_denied', 'access_denied'], ['expired_token', 'expired_token']] as const) {
      const s = scripted([pending, { status: 400, body: { error } }]);
      await assert.rejects(
        pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 1 }), s.options),
        (e: unknown) => isClientError(e, code),
      );
    }
  });

  test('gives up at the code\'s expiry without asking again', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const s = scripted([pending, pending, pending]);
    await assert.rejects(
      pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 5, expiresIn: 12 }), s.options),
      (e: unknown) => isClientError(e, 'expired_token'),
    );
    assert.equal(s.proofs.length, 2, 'polled at 5 s and 10 s, then stopped at 15 s > 12 s');
  });

  test('on network errors, polls less often (doubling), and recovers', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const s = scripted(['network-error', 'network-error', pending, tokens]);
    await pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 2 }), s.options);
    assert.deepEqual(s.sleeps, [2, 4, 8, 8]);
  });

  test('a token that is not DPoP-bound is refused', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const s = scripted([{ status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 60 } }]);
    await assert.rejects(
      pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 1 }), s.options),
      (e: unknown) => isClientError(e, 'invalid_response'),
    );
  });

  test('use_dpop_nonce: retried once with the nonce, which is then kept for later requests', async () => {
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const s = scripted([
      { status: 400, body: { error: 'use_dpop_nonce' }, headers: { 'dpop-nonce': 'n-1' } },
      pending,
      tokens,
    ]);
    await pollDeviceAuthorization({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, authorization({ interval: 1 }), s.options);
    assert.deepEqual(s.sleeps, [1, 1], 'the nonce retry is immediate, not a poll');
    assert.deepEqual(s.proofs.map((p) => decodeJwt(p)['nonce']), [undefined, 'n-1', 'n-1']);
  });
});

test('the device authorization request is bound to the key by its proof', async () => {
  const { key } = await InMemoryClientKey.generate({ extractable: false });
  const s = scripted([
    {
      status: 200,
      body: {
        device_code: 'dc',
        user_code: 'BCDF-GHJK',
        verification_uri: 'https://as.example/device',
        verification_uri_complete: 'https://as.example/device?user_code=BCDF-GHJK',
        expires_in: 300,
        interval: 1,
      },
    },
  ]);
  const result = await deviceAuthorizationRequest({ fetch: s.fetchFn, key, nonces: new NonceCache() }, metadata, { clientId: 'tether-cli' });
  assert.equal(result.userCode, 'BCDF-GHJK');
  assert.equal(result.interval, 1);
  const payload = decodeJwt(s.proofs[0] ?? '');
  assert.equal(payload['htu'], metadata.device_authorization_endpoint);
  assert.equal(payload['htm'], 'POST');
});
