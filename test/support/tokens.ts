import assert from 'node:assert/strict';
import { authorize, basic, decide, redeem } from './device-flow.js';
import { dpopKey, type DpopKey } from './dpop.js';
import { postForm } from './http.js';
import { ADMIN_KEY, GATEWAY_SECRET, type TestServer } from './in-process.js';

export interface LoggedIn {
  key: DpopKey;
  accessToken: string;
  refreshToken: string;
  body: Record<string, unknown>;
}

/** A whole device login as alice (or `user`) with a fresh DPoP key bound from the first request. */
export async function login(server: TestServer, opts: { user?: string; scope?: string; key?: DpopKey } = {}): Promise<LoggedIn> {
  const key = opts.key ?? (await dpopKey());
  const form: Record<string, string> = { client_id: 'tether-cli' };
  if (opts.scope) form['scope'] = opts.scope;
  const codes = await authorize(server, form, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });
  if (opts.user && opts.user !== 'alice') {
    const { FormBrowser } = await import('./browser-form.js');
    const page = await new FormBrowser(server.issuer).decide(codes.user_code, 'approve', opts.user);
    assert.ok(page.includes('Device approved'));
  } else {
    await decide(server, codes.user_code);
  }
  const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return {
    key,
    accessToken: String(reply.body['access_token']),
    refreshToken: String(reply.body['refresh_token']),
    body: reply.body,
  };
}

export async function refresh(server: TestServer, refreshToken: string, key: DpopKey | null, extra: Record<string, string> = {}) {
  const url = `${server.issuer}/token`;
  const headers: Record<string, string> = key ? { DPoP: await key.proof('POST', url) } : {};
  return postForm(url, { grant_type: 'refresh_token', client_id: 'tether-cli', refresh_token: refreshToken, ...extra }, headers);
}

/** Introspects as the api-gateway resource server. */
export async function introspect(server: TestServer, token: string): Promise<Record<string, unknown>> {
  const reply = await postForm(`${server.issuer}/introspect`, { token }, { authorization: basic('api-gateway', GATEWAY_SECRET) });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.headers.get('cache-control'), 'no-store');
  return reply.body;
}

export async function adminRevoke(server: TestServer, body: Record<string, unknown>, key = ADMIN_KEY) {
  const response = await fetch(`${server.issuer}/admin/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Calls the guarded demo API with the token and, unless told otherwise, a fresh proof. */
export async function callApi(
  server: TestServer,
  token: string,
  opts: { key?: DpopKey | null; scheme?: string; proof?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; challenge: string | null }> {
  const url = `${server.issuer}/api/whoami`;
  const headers: Record<string, string> = { authorization: `${opts.scheme ?? 'DPoP'} ${token}` };
  const proof = opts.proof ?? (opts.key ? await opts.key.proof('GET', url, { ath: await ath(token) }) : undefined);
  if (proof) headers['dpop'] = proof;
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    challenge: response.headers.get('www-authenticate'),
  };
}

export async function ath(token: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(token).digest('base64url');
}
