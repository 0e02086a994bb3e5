/**
 * Device statements (issue 12, point 1), against the real HTTP server: a machine's long-lived device key vouches for
 * a login's fresh DPoP key with `tether_device_attestation`, and policy sees the device key's enrollment. Each
 * attack on the statement (forged signature, another device's key, expired, too long-lived, replayed, bound to
 * another key, for another issuer, without a proof) is refused with `invalid_request`; an unenrolled device key
 * counts as unmanaged. Revoking the device's trust refuses its tokens at a running `tether gateway` and its next
 * refresh.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK, type KeyObject } from 'jose';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import type { CliIO } from '../../src/cli/io.js';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../../src/config/schema.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, type DeviceCodes, type Reply } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { ADMIN_KEY, GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { ath } from '../support/tokens.js';
import { startUpstream, until } from '../guard/support.js';

const PROD = 'https://prod.example';
const MANAGED = /This API needs a managed device/;

/** A device key that can sign statements, honest or not. */
interface Device {
  jwk: JWK;
  jkt: string;
  privateKey: KeyObject;
}

async function newDevice(): Promise<Device> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { jwk, jkt: await calculateJwkThumbprint(jwk), privateKey: privateKey as KeyObject };
}

const now = () => Math.floor(Date.now() / 1000);

/** A statement by `signer`; every field can be bent to play an attack. */
function statement(
  signer: Device,
  claims: { aud: string; cnfJkt: string; iss?: string; iat?: number; exp?: number; jti?: string },
  header: { jwk?: JWK; typ?: string } = {},
): Promise<string> {
  const iat = claims.iat ?? now();
  return new SignJWT({ iss: claims.iss ?? signer.jkt, aud: claims.aud, cnf: { jkt: claims.cnfJkt }, iat, exp: claims.exp ?? iat + 60, jti: claims.jti ?? randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: header.typ ?? 'tether-device+jwt', jwk: header.jwk ?? signer.jwk })
    .sign(signer.privateKey);
}

function io(env: Record<string, string>): CliIO & { err: () => string } {
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env, err: () => err };
}

describe('device statements at /device_authorization', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({
      extra_resources: [{ uri: PROD, name: 'Production', scopes: ['read', 'write'], tier: 'high' }],
      extra_clients: [{ id: 'ops-cli', name: 'Ops CLI', grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT], scopes: ['read', 'write'], resources: [PROD] }],
    });
  });
  after(() => server.close());

  async function ask(key: DpopKey | undefined, attestation: string | undefined, client = 'ops-cli'): Promise<Reply> {
    const form: Record<string, string> = { client_id: client };
    if (attestation !== undefined) form['tether_device_attestation'] = attestation;
    return postForm(`${server.issuer}/device_authorization`, form, key ? { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) } : {});
  }

  async function enroll(device: Device): Promise<void> {
    const asKey: DpopKey = {
      jwk: device.jwk,
      jkt: device.jkt,
      proof: (htm, htu) =>
        new SignJWT({ htm, htu, jti: randomUUID(), iat: now() }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: device.jwk }).sign(device.privateKey),
    };
    const reply = await postForm(`${server.issuer}/devices/enroll`, { name: 'alice-laptop' }, { DPoP: await asKey.proof('POST', `${server.issuer}/devices/enroll`) });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
  }

  async function admin(path: string, body: Record<string, unknown> = {}): Promise<Response> {
    return fetch(`${server.issuer}/admin/devices/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async function approvedDevice(): Promise<Device> {
    const device = await newDevice();
    await enroll(device);
    assert.equal((await admin(`${device.jkt}/approve`, { class: 'managed' })).status, 200);
    return device;
  }

  /** Asks with a statement, approves in the browser, redeems with the login key. */
  async function login(key: DpopKey, device: Device, client = 'ops-cli'): Promise<Record<string, unknown>> {
    const reply = await ask(key, await statement(device, { aud: server.issuer, cnfJkt: key.jkt }), client);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const codes = reply.body as unknown as DeviceCodes;
    assert.match(await new FormBrowser(server.issuer).decide(codes.user_code, 'approve'), /Device approved/);
    const url = `${server.issuer}/token`;
    const tokens = await postForm(url, { grant_type: DEVICE_GRANT, client_id: client, device_code: codes.device_code }, { DPoP: await key.proof('POST', url) });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    return tokens.body;
  }

  test('an approved device key vouching for a fresh login key: the login is managed, the token names the device key', async () => {
    const device = await approvedDevice();
    const key = await dpopKey();
    // Without the statement the fresh key is what policy sees: unmanaged, refused for a high-tier API.
    const bare = await ask(key, undefined);
    assertOAuthError(bare, 'unauthorized_client');
    assert.match(String(bare.body['error_description']), MANAGED);

    const tokens = await login(key, device);
    const claims = decodeJwt(String(tokens['access_token']));
    assert.equal(claims['device_class'], 'managed');
    assert.equal(claims['device_enrolled'], true);
    assert.equal(claims['device_jkt'], device.jkt);
    assert.deepEqual(claims['cnf'], { jkt: key.jkt }, 'the token stays bound to the login key, not the device key');
  });

  test('forged: the approved device key in the header, signed by another key', async () => {
    const device = await approvedDevice();
    const attacker = await newDevice();
    const key = await dpopKey();
    const forged = await statement(attacker, { aud: server.issuer, cnfJkt: key.jkt, iss: device.jkt }, { jwk: device.jwk });
    const reply = await ask(key, forged);
    assertOAuthError(reply, 'invalid_request');
    assert.match(String(reply.body['error_description']), /signature/);
  });

  test("another device's key: the attacker signs with its own key but names the approved device as iss", async () => {
    const device = await approvedDevice();
    const attacker = await newDevice();
    const key = await dpopKey();
    const reply = await ask(key, await statement(attacker, { aud: server.issuer, cnfJkt: key.jkt, iss: device.jkt }));
    assertOAuthError(reply, 'invalid_request');
    assert.match(String(reply.body['error_description']), /iss must be the thumbprint of the signing key/);
  });

  test('expired, too long-lived, from the future, or for another issuer', async () => {
    const device = await approvedDevice();
    const key = await dpopKey();
    const cases: [Parameters<typeof statement>[1], RegExp][] = [
      [{ aud: server.issuer, cnfJkt: key.jkt, iat: now() - 120, exp: now() - 60 }, /expired/],
      [{ aud: server.issuer, cnfJkt: key.jkt, iat: now(), exp: now() + 3600 }, /at most 60 seconds/],
      [{ aud: server.issuer, cnfJkt: key.jkt, iat: now() + 300, exp: now() + 330 }, /future/],
      [{ aud: 'https://other-issuer.example', cnfJkt: key.jkt }, /aud must be/],
    ];
    for (const [claims, why] of cases) {
      const reply = await ask(key, await statement(device, claims));
      assertOAuthError(reply, 'invalid_request');
      assert.match(String(reply.body['error_description']), why);
    }
    const wrongType = await ask(key, await statement(device, { aud: server.issuer, cnfJkt: key.jkt }, { typ: 'JWT' }));
    assertOAuthError(wrongType, 'invalid_request');
  });

  test('replayed: a statement works once', async () => {
    const device = await approvedDevice();
    const key = await dpopKey();
    const once = await statement(device, { aud: server.issuer, cnfJkt: key.jkt });
    assert.equal((await ask(key, once)).status, 200);
    const again = await ask(key, once);
    assertOAuthError(again, 'invalid_request');
    assert.match(String(again.body['error_description']), /already used/);
  });

  test("cnf mismatch: a statement for one login key sent with another key's proof, or with no proof", async () => {
    const device = await approvedDevice();
    const vouched = await dpopKey();
    const thief = await dpopKey();
    const stolen = await ask(thief, await statement(device, { aud: server.issuer, cnfJkt: vouched.jkt }));
    assertOAuthError(stolen, 'invalid_request');
    assert.match(String(stolen.body['error_description']), /cnf\.jkt/);
    const unbound = await ask(undefined, await statement(device, { aud: server.issuer, cnfJkt: vouched.jkt }));
    assertOAuthError(unbound, 'invalid_request');
    assertOAuthError(await ask(vouched, 'not.a-statement'), 'invalid_request');
  });

  test('unenrolled, pending or revoked device key: a valid statement proves the key, not trust', async () => {
    const stranger = await newDevice();
    const key = await dpopKey();
    const unenrolled = await ask(key, await statement(stranger, { aud: server.issuer, cnfJkt: key.jkt }));
    assertOAuthError(unenrolled, 'unauthorized_client');
    assert.match(String(unenrolled.body['error_description']), MANAGED);
    await enroll(stranger);
    assertOAuthError(await ask(key, await statement(stranger, { aud: server.issuer, cnfJkt: key.jkt })), 'unauthorized_client');
    // A low-tier API takes the unmanaged device, and its token says so.
    const low = await ask(key, await statement(stranger, { aud: server.issuer, cnfJkt: key.jkt }), 'tether-cli');
    assert.equal(low.status, 200);
  });

  test('GET /devices/self answers about the proving key only', async () => {
    const device = await approvedDevice();
    const self = async (d: Device) => {
      const url = `${server.issuer}/devices/self`;
      const proof = await new SignJWT({ htm: 'GET', htu: url, jti: randomUUID(), iat: now() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: d.jwk })
        .sign(d.privateKey);
      const response = await fetch(url, { headers: { dpop: proof, accept: 'application/json' } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    assert.deepEqual(await self(device), { status: 200, body: { jkt: device.jkt, status: 'approved', class: 'managed' } });
    const other = await newDevice();
    assert.deepEqual(await self(other), { status: 200, body: { jkt: other.jkt, status: 'not_enrolled', class: null } });
    const noProof = await fetch(`${server.issuer}/devices/self`, { headers: { accept: 'application/json' } });
    assert.equal(noProof.status, 400);
    assert.equal(((await noProof.json()) as { error: string }).error, 'invalid_dpop_proof');
  });

  describe('revoking the device trust', () => {
    let upstream: Awaited<ReturnType<typeof startUpstream>>;
    let stop!: () => void;
    let run: Promise<number>;
    let base: string;

    before(async () => {
      upstream = await startUpstream();
      const cli = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway' });
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      run = gatewayCommand(['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0'], cli, stopped);
      await until(() => /Tether gateway: (http:\/\/\S+)/.test(cli.err()), 10_000, 'the gateway banner');
      base = /Tether gateway: (http:\/\/\S+)/.exec(cli.err())?.[1] as string;
    });
    after(async () => {
      stop();
      await run;
      await upstream.close();
    });

    test('refuses its next API request at the gateway within a second, and its next refresh', async (t) => {
      const device = await approvedDevice();
      const apiKey = await dpopKey();
      const api = await login(apiKey, device, 'tether-cli');
      const prodKey = await dpopKey();
      const prod = await login(prodKey, device);
      const call = async () => {
        const url = `${base}/orders`;
        const token = String(api['access_token']);
        const proof = await apiKey.proof('GET', url, { ath: await ath(token) });
        return (await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status;
      };
      await until(async () => (await call()) === 200, 10_000, 'the gateway to accept the token');

      assert.equal((await admin(`${device.jkt}/revoke`, { reason: 'laptop lost' })).status, 200);
      const started = Date.now();
      await until(async () => (await call()) === 401, 5_000, 'the gateway to refuse the device');
      const took = Date.now() - started;
      t.diagnostic(`the gateway refused the revoked device ${took} ms after the revocation`);
      // A second, plus slack for a machine shared by several test runs.
      assert.ok(took < 1_500, `refused after ${took} ms`);

      const url = `${server.issuer}/token`;
      const refreshed = await postForm(url, { grant_type: 'refresh_token', client_id: 'ops-cli', refresh_token: String(prod['refresh_token']) }, {
        DPoP: await prodKey.proof('POST', url),
      });
      assertOAuthError(refreshed, 'invalid_grant');
      assert.match(String(refreshed.body['error_description']), MANAGED);
    });
  });
});
