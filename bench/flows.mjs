// The load side of redemption, refresh and introspection: approving device codes at each server, DPoP proofs
// signed as each request goes out (node:crypto, synchronous: ~25 µs each, small beside a server's work), and the
// token-response checks.
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { deviceAddress } from './load.mjs';
import { APPROVER } from './servers.mjs';

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A device's DPoP key (ES256) with its proof header prepared once. */
export function proofKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  return { privateKey, jkt, header: b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }) };
}

/** A fresh proof (RFC 9449 §4.2) for a POST to `htu`. */
export function freshProof(key, htu) {
  const input = `${key.header}.${b64({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID() })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/**
 * Proofs for request numbers [from, from + count) of round-robin polls over `devices`: request k polls device
 * k mod devices.length, proved by that device's own key. Signed ahead of the timed run, as the unbound polls' are
 * (dpop-proofs.mjs): signing as each poll went out capped the load side below the rate the server could answer.
 */
export function signDeviceProofs({ devices, htu, from, count }) {
  return Array.from({ length: count }, (_, i) => freshProof(devices[(from + i) % devices.length].key, htu));
}

/** A valid token response: 200, a DPoP-bound access token and a (rotated) refresh token. */
export function tokenResponse(status, body) {
  if (status !== 200) return undefined;
  const access = /"access_token":"([^"]+)"/.exec(body)?.[1];
  const refresh = /"refresh_token":"([^"]+)"/.exec(body)?.[1];
  if (!access || !refresh || !/"token_type":"DPoP"/.test(body) || access.split('.').length !== 3) return undefined;
  return { access, refresh };
}

/** Drives Tether's verification page as a browser would: sign in once, then enter and approve each user code. */
export class FormBrowser {
  constructor(issuer, approver = APPROVER) {
    this.issuer = issuer;
    this.approver = approver;
    this.cookie = '';
    this.page = '';
  }

  async request(path, form) {
    const response = await fetch(`${this.issuer}${path}`, {
      method: form ? 'POST' : 'GET',
      headers: { cookie: this.cookie, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams({ ...this.hidden(), ...form }) : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    this.page = await response.text();
    return this.page;
  }

  hidden() {
    const fields = {};
    for (const [, name, value] of this.page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[name] = value;
    return fields;
  }

  async approve(userCode) {
    await this.request('/device');
    let page = await this.request('/device', { user_code: userCode });
    if (page.includes('action="/device/sign-in"')) {
      page = await this.request('/device/sign-in', { user_code: userCode, username: this.approver.username, password: this.approver.password });
    }
    page = await this.request('/device/decision', { user_code: userCode, decision: 'approve' });
    if (!page.includes('Device approved')) throw new Error(`approval failed: ${page.slice(0, 300)}`);
  }
}

/** Approves `userCodes` at `server`: Tether through its pages (a few browsers at once), oidc-provider through its bench route. */
export async function approveAll(server, userCodes) {
  if (server.name !== 'Tether') {
    for (let i = 0; i < userCodes.length; i += 500) {
      const response = await fetch(`${server.origin}/bench/approve`, { method: 'POST', body: JSON.stringify(userCodes.slice(i, i + 500)) });
      if (!response.ok) throw new Error(`oidc-provider approval: ${response.status} ${await response.text()}`);
    }
    return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      const browser = new FormBrowser(server.origin);
      while (next < userCodes.length) await browser.approve(userCodes[next++]);
    }),
  );
}

/**
 * Starts `count` device codes at `server` (a few at a time), each with its device's key; with `bind`, the request
 * carries a proof by that key, which binds the code to it at Tether (RFC 9449 §10 applied to RFC 8628).
 */
export async function startDevices(server, { clientId, count, keys, bind = false }) {
  const out = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const key = keys[i % keys.length];
        const response = await fetch(server.endpoints.deviceAuthorization, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': deviceAddress(), ...(bind ? { dpop: freshProof(key, server.endpoints.deviceAuthorization) } : {}) },
          body: new URLSearchParams({ client_id: clientId }),
        });
        const body = await response.json();
        if (response.status !== 200 || !body.device_code) throw new Error(`${server.name} device authorization: ${response.status} ${JSON.stringify(body)}`);
        out.push({ deviceCode: body.device_code, userCode: body.user_code, key });
      }
    }),
  );
  return out;
}
