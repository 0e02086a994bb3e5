import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';

/**
 * The whole device flow as it happens for real: an independent OAuth client (openid-client, panva) discovers the
 * server, asks for a device code and polls with DPoP, while a person in headless Chromium opens the link, checks
 * the code, signs in, reads the review screen and presses Approve or Deny.
 */

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 10_000;

let server: TestServer;
let browser: Browser;

before(async () => {
  // One-second polling keeps the test fast; the code lives long enough for a slow machine.
  server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

interface TokenExchange {
  url: string;
  status: number;
  body: Record<string, unknown>;
}

/** openid-client configured by discovery, recording every token endpoint response as the server sent it. */
async function discoverClient(exchanges: TokenExchange[]): Promise<client.Configuration> {
  const config = await client.discovery(new URL(server.issuer), 'tether-cli', undefined, client.None(), {
    algorithm: 'oauth2',
    execute: [client.allowInsecureRequests],
  });
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options as RequestInit);
    if (new URL(url).pathname === '/token') {
      exchanges.push({ url, status: response.status, body: (await response.clone().json()) as Record<string, unknown> });
    }
    return response;
  };
  return config;
}

/**
 * The person's part up to the review screen: open the link, sign in as alice (first, before any code is checked),
 * compare the code, confirm it. Returns the span of seconds in which the sign-in happened.
 */
async function reachReview(page: Page, device: client.DeviceAuthorizationResponse): Promise<{ from: number; to: number }> {
  assert.ok(device.verification_uri_complete, 'the server sends verification_uri_complete');
  await page.goto(device.verification_uri_complete);
  await page.getByRole('heading', { name: 'Sign in to connect a device' }).waitFor();
  // The sign-in page says which code comes next; the code rides along sealed, not in a field.
  assert.match(await page.locator('main').innerText(), new RegExp(device.user_code));
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  assert.ok(await username.isVisible(), 'the username field has a visible label');
  assert.ok(await password.isVisible(), 'the password field has a visible label');
  await username.fill('alice');
  await password.fill(TEST_PASSWORD);
  const from = Math.floor(Date.now() / 1000);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await page.getByRole('heading', { name: 'Check the code' }).waitFor();
  const to = Math.floor(Date.now() / 1000);
  // The person compares what the page shows with what the device printed.
  assert.equal((await page.locator('.code').innerText()).trim(), device.user_code);
  await page.getByRole('button', { name: 'Yes, the codes match' }).click();

  await page.getByRole('heading', { name: 'Allow Tether CLI to act as you?' }).waitFor();
  return { from, to };
}

/** What the review screen tells the person, checked as they would read it. */
async function assertReviewScreen(page: Page, device: client.DeviceAuthorizationResponse): Promise<void> {
  const facts = page.locator('dl.facts');
  const text = await facts.innerText();
  assert.match(text, /Tether CLI/);
  assert.match(text, /Test API/);
  assert.match(text, new RegExp(server.api.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.deepEqual(await page.locator('ul.scopes li').allInnerTexts(), ['read', 'write']);
  assert.match(text, /Requested\s+just now from 127\.0\.0\.1/, 'the requesting IP is shown');
  assert.match(text, new RegExp(device.user_code));
  assert.match(await page.locator('form.account').innerText(), /Signed in as\s+Alice/);
  assert.ok(await page.getByRole('button', { name: 'Switch account' }).isVisible(), 'a way to switch account');
  // Same machine, so no different-network alarm.
  assert.equal(await page.getByRole('alert').count(), 0);

  const approve = page.getByRole('button', { name: 'Approve' });
  const deny = page.getByRole('button', { name: 'Deny' });
  assert.ok(await approve.isVisible(), 'Approve is visible');
  assert.ok(await deny.isVisible(), 'Deny is visible');
  assert.ok(await approve.isEnabled());
  assert.ok(await deny.isEnabled());
  // Equally prominent: the same size and the same weight of type.
  const [a, d] = [await approve.boundingBox(), await deny.boundingBox()];
  assert.ok(a && d);
  assert.ok(Math.abs(a.width - d.width) < 2 && Math.abs(a.height - d.height) < 2, 'Approve and Deny are the same size');
  // Runs in the page; the DOM types are not part of this project's TypeScript lib.
  type Styled = { getComputedStyle(e: unknown): { fontWeight: string; fontSize: string } };
  const weight = (l: typeof approve) =>
    l.evaluate((el) => {
      const style = (globalThis as unknown as Styled).getComputedStyle(el);
      return style.fontWeight + style.fontSize;
    });
  assert.equal(await weight(approve), await weight(deny));
}

describe('device flow with openid-client and a real browser', { timeout: 60_000 }, () => {
  test('a person approves: the client receives a DPoP-bound JWT access token', async () => {
    const exchanges: TokenExchange[] = [];
    const config = await discoverClient(exchanges);
    assert.equal(config.serverMetadata().issuer, server.issuer);
    assert.equal(config.serverMetadata().jwks_uri, `${server.issuer}/jwks`);

    const keyPair = await client.randomDPoPKeyPair();
    const DPoP = client.getDPoPHandle(config, keyPair);
    const device = await client.initiateDeviceAuthorization(config, { scope: 'read write' });
    assert.match(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(device.interval, 1);

    const abort = new AbortController();
    const polled = client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP, signal: abort.signal });
    polled.catch(() => {}); // Asserted below; this only keeps an early browser failure from being an unhandled rejection.

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      const signIn = await reachReview(page, device);
      await assertReviewScreen(page, device);
      // Let the device poll while the person reads (it must still be waiting); the pause also puts the approval in
      // a later second than the sign-in, so auth_time can be told apart from the time of the decision.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(exchanges.some((e) => e.body['error'] === 'authorization_pending'), 'the client polled while pending');

      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { name: 'Device approved' }).waitFor();
      assert.match(await page.locator('main').innerText(), /Tether CLI is now signed in/);

      const tokens = await polled;
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      const success = exchanges.find((e) => e.status === 200);
      assert.equal(success?.body['token_type'], 'DPoP', 'the server says token_type DPoP');
      assert.equal(tokens.scope, 'read write');
      assert.ok(typeof tokens.expires_in === 'number' && tokens.expires_in > 0);

      const metadata = config.serverMetadata();
      assert.ok(metadata.jwks_uri);
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
        issuer: server.issuer,
        audience: server.api,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.ok(protectedHeader.kid, 'the header names its key');
      assert.equal(payload.iss, server.issuer);
      assert.equal(payload.aud, server.api);
      assert.equal(payload.sub, 'alice');
      assert.equal(payload['client_id'], 'tether-cli');
      assert.equal(payload['scope'], 'read write');
      assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0);
      const now = Math.floor(Date.now() / 1000);
      assert.ok(typeof payload.iat === 'number' && Math.abs(payload.iat - now) <= 60);
      assert.ok(typeof payload.exp === 'number' && payload.exp > payload.iat);
      assert.equal(payload.exp - payload.iat, tokens.expires_in);
      const authTime = payload['auth_time'];
      assert.ok(typeof authTime === 'number');
      assert.ok(authTime >= signIn.from && authTime <= signIn.to, `auth_time ${authTime} is when alice signed in`);
      const cnf = payload['cnf'] as { jkt?: unknown } | undefined;
      assert.equal(cnf?.jkt, await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)), 'bound to the DPoP key');
    } finally {
      abort.abort();
      await context.close();
    }
  });

  test('a person denies: the client\'s poll ends with access_denied', async () => {
    const exchanges: TokenExchange[] = [];
    const config = await discoverClient(exchanges);
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const device = await client.initiateDeviceAuthorization(config, { scope: 'read' });

    const abort = new AbortController();
    const polled = client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP, signal: abort.signal });
    polled.catch(() => {});

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      await reachReview(page, device);
      assert.deepEqual(await page.locator('ul.scopes li').allInnerTexts(), ['read']);
      assert.ok(await page.getByRole('button', { name: 'Approve' }).isVisible());

      await page.getByRole('button', { name: 'Deny' }).click();
      await page.getByRole('heading', { name: 'Request denied' }).waitFor();
      assert.match(await page.locator('main').innerText(), /its code no longer works/);

      await assert.rejects(polled, (error: unknown) => {
        assert.ok(error instanceof client.ResponseBodyError, `expected an OAuth error response, got ${String(error)}`);
        assert.equal(error.error, 'access_denied');
        assert.equal(error.status, 400);
        return true;
      });
      assert.ok(!exchanges.some((e) => e.status === 200), 'no token was issued');
    } finally {
      abort.abort();
      await context.close();
    }
  });
});
