import assert from 'node:assert/strict';
import { FormBrowser } from './browser-form.js';
import { dpopKey, type DpopKey } from './dpop.js';
import { DEVICE_GRANT, postForm } from './http.js';
import type { TestServer } from './in-process.js';

export type Reply = Awaited<ReturnType<typeof postForm>>;

export const CI_BOT_SECRET = 'a-very-long-client-secret-for-tests-0123456789';

/** HTTP Basic credentials for a client, form-encoded first as RFC 6749 §2.3.1 asks. */
export function basic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

export interface DeviceCodes {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** Asks the device authorization endpoint for codes; fails the test unless it answers 200. */
export async function authorize(
  server: TestServer,
  form: Record<string, string | string[]> = { client_id: 'tether-cli' },
  headers: Record<string, string> = {},
): Promise<DeviceCodes> {
  const reply = await postForm(`${server.issuer}/device_authorization`, form, headers);
  assert.equal(reply.status, 200, `device authorization failed: ${JSON.stringify(reply.body)}`);
  return reply.body as unknown as DeviceCodes;
}

let sharedKey: Promise<DpopKey> | undefined;

/** The DPoP key `redeem` proves possession of unless told otherwise. */
export function defaultDpopKey(): Promise<DpopKey> {
  sharedKey ??= dpopKey();
  return sharedKey;
}

/**
 * One token request with the device_code grant. It carries a fresh DPoP proof by `dpop` (by default a key shared
 * by the tests) unless `headers` already has one or `dpop` is null.
 */
export async function redeem(
  server: TestServer,
  deviceCode: string | undefined,
  extra: Record<string, string | string[]> = { client_id: 'tether-cli' },
  headers: Record<string, string> = {},
  dpop?: DpopKey | null,
): Promise<Reply> {
  const form: Record<string, string | string[]> = { grant_type: DEVICE_GRANT, ...extra };
  if (deviceCode !== undefined) form['device_code'] = deviceCode;
  const url = `${server.issuer}/token`;
  const all = { ...headers };
  const key = dpop === undefined ? await defaultDpopKey() : dpop;
  if (key && !Object.keys(all).some((h) => h.toLowerCase() === 'dpop')) all['DPoP'] = await key.proof('POST', url);
  return postForm(url, form, all);
}

/** Approves (or denies) a user code through the verification page as alice; fails unless the page confirms. */
export async function decide(server: TestServer, userCode: string, decision: 'approve' | 'deny' = 'approve') {
  const browser = new FormBrowser(server.issuer);
  const page = await browser.decide(userCode, decision);
  const expected = decision === 'approve' ? 'Device approved' : 'Request denied';
  assert.ok(page.includes(expected), `expected "${expected}", got HTTP ${browser.lastStatus}: ${page.slice(0, 400)}`);
}

/**
 * Asserts the RFC 6749 §5.2 error shape: the status, a JSON body whose `error` is the code, and no caching.
 */
export function assertOAuthError(reply: Reply, error: string, status = 400): void {
  assert.equal(reply.body['error'], error, `expected ${error}, got ${reply.status} ${JSON.stringify(reply.body)}`);
  assert.equal(reply.status, status, `expected HTTP ${status} for ${error}`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(reply.headers.get('cache-control'), 'no-store');
  const description = reply.body['error_description'];
  if (description !== undefined) {
    // RFC 6749 §5.2: error_description is limited to printable ASCII without " and \.
    assert.match(String(description), /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
