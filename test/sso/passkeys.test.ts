/**
 * Passkeys over real HTTP, with a software authenticator that can do what a browser never would. Each attack
 * fails: a registration or sign-in without user verification, an assertion made for a look-alike origin (the
 * phishing that passkeys exist to stop), a replayed assertion, a challenge from another browser session, a cloned
 * authenticator's old counter, registering without a password sign-in, removing someone else's passkey. A
 * straight registration and sign-in pass, so each refusal is the check at work and not a broken harness.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { FormBrowser } from '../support/browser-form.js';
import { authorize } from '../support/device-flow.js';
import { freePort } from '../support/ports.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { SoftAuthenticator } from './soft-authenticator.js';

let server: TestServer;
let origin: string;

before(async () => {
  const port = await freePort();
  // A relying party id must be a domain: localhost.
  origin = `http://localhost:${port}`;
  const started = await startServer({ issuer: origin, listen: { host: '127.0.0.1', port } });
  server = { ...started, issuer: origin };
});
after(() => server?.close());

/** The options the passkey script would fetch for this browser's page. */
async function options(browser: FormBrowser, path: string): Promise<{ challenge: string; status: number }> {
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { cookie: browser.cookieHeader, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: browser.csrf() }).toString(),
  });
  const body = (await response.json()) as { challenge: string };
  return { challenge: body.challenge, status: response.status };
}

/** Alice signs in with her password and registers `authenticator` on the passkey page. */
async function register(authenticator: SoftAuthenticator, opts: { userVerified?: boolean; username?: string } = {}) {
  const browser = new FormBrowser(origin);
  await browser.signIn(opts.username ?? 'alice');
  await browser.get('/device/passkeys');
  const o = await options(browser, '/device/passkeys/options');
  assert.equal(o.status, 200);
  const page = await browser.post('/device/passkeys/register', { credential: authenticator.register(o, origin, opts), name: 'Soft key' });
  return { browser, page };
}

/** A fresh browser asks for sign-in options on the sign-in page. */
async function signInOptions(): Promise<{ browser: FormBrowser; challenge: string }> {
  const browser = new FormBrowser(origin);
  const page = await browser.get('/device');
  assert.match(page, /Sign in with a passkey/);
  const o = await options(browser, '/device/passkey/options');
  assert.equal(o.status, 200);
  return { browser, challenge: o.challenge };
}

describe('passkeys against a software authenticator', () => {
  const key = new SoftAuthenticator('localhost');

  test('registered after a password sign-in, it signs in without a password (the control case)', async () => {
    const { page } = await register(key);
    assert.match(page, /Passkey added/);
    const { browser, challenge } = await signInOptions();
    const signedIn = await browser.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, origin) });
    assert.equal(browser.lastStatus, 200, signedIn.slice(0, 400));
    assert.match(signedIn, /Signed in as <strong>Alice<\/strong>/);
    const event = (await new SqlAuditLog(server.tether.db).query({ type: 'user.signed_in' })).at(-1);
    assert.equal(event?.data['method'], 'passkey');
  });

  test('user verification is required: an assertion without it is refused', async () => {
    const { browser, challenge } = await signInOptions();
    const page = await browser.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, origin, { userVerified: false }) });
    assert.equal(browser.lastStatus, 401);
    assert.match(page, /That passkey could not sign you in/);
    assert.doesNotMatch(page, /Signed in as/);
  });

  test('user verification is required at registration too', async () => {
    const unverified = new SoftAuthenticator('localhost');
    const { browser, page } = await register(unverified, { userVerified: false, username: 'bob' });
    assert.equal(browser.lastStatus, 400);
    assert.match(page, /could not be added/);
    assert.match(page, /No passkeys yet/);
  });

  test('an assertion made for a look-alike origin (a phishing page relaying it) is refused', async () => {
    const { browser, challenge } = await signInOptions();
    const page = await browser.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, 'https://tether-login.example') });
    assert.equal(browser.lastStatus, 401);
    assert.doesNotMatch(page, /Signed in as/);
  });

  test('a replayed assertion is refused: each challenge is used once', async () => {
    const { browser, challenge } = await signInOptions();
    const credential = key.assert({ challenge }, origin);
    assert.match(await browser.post('/device/passkey/sign-in', { credential }), /Signed in as/);
    await browser.post('/device/sign-out', {});
    const again = await browser.post('/device/passkey/sign-in', { credential });
    assert.equal(browser.lastStatus, 401);
    assert.doesNotMatch(again, /Signed in as/);
  });

  test('a challenge issued to another browser session is refused', async () => {
    const { challenge } = await signInOptions();
    const other = new FormBrowser(origin);
    await other.get('/device');
    const page = await other.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, origin) });
    assert.equal(other.lastStatus, 401);
    assert.doesNotMatch(page, /Signed in as/);
  });

  test('a cloned authenticator (a signature counter that went backwards) is refused', async () => {
    const { browser, challenge } = await signInOptions();
    const page = await browser.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, origin, { counter: 1 }) });
    assert.equal(browser.lastStatus, 401);
    assert.doesNotMatch(page, /Signed in as/);
    key.counter = 100;
  });

  test('registration needs a password sign-in first; options and forms without one are refused', async () => {
    const anonymous = new FormBrowser(origin);
    await anonymous.get('/device');
    assert.equal((await options(anonymous, '/device/passkeys/options')).status, 403);
    await anonymous.post('/device/passkeys/register', { credential: '{}', name: 'x' });
    assert.equal(anonymous.lastStatus, 403);
  });

  test('one cannot remove someone else\'s passkey', async () => {
    const bob = new FormBrowser(origin);
    await bob.signIn('bob');
    await bob.get('/device/passkeys');
    await bob.post('/device/passkeys/remove', { id: key.id });
    assert.equal(bob.lastStatus, 404);
    const { browser, challenge } = await signInOptions();
    assert.match(await browser.post('/device/passkey/sign-in', { credential: key.assert({ challenge }, origin) }), /Signed in as <strong>Alice/);
  });

  test('a passkey sign-in carries the code from the link through to its confirmation', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(origin);
    await browser.get(`/device?user_code=${encodeURIComponent(codes.user_code)}`);
    const o = await options(browser, '/device/passkey/options');
    const page = await browser.post('/device/passkey/sign-in', { credential: key.assert(o, origin) });
    assert.match(page, /Check the code/);
    assert.ok(page.includes(codes.user_code));
  });
});
