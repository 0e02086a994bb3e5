/**
 * Enterprise sign-in in a real browser. Headless Chromium (playwright-core) follows the redirects to npm
 * oidc-provider and back, and approves a device code signed in through it; then Chromium's virtual authenticator,
 * driven over CDP, registers a passkey after a password sign-in, signs in with it (no password) to approve a
 * device, and the passkey, once removed, signs in no more. Screenshots of the sign-in choices and the passkey page
 * at desktop (1280) and phone (390) widths go to $TETHER_SHOTS (default: a temporary folder).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { authorize, redeem } from '../support/device-flow.js';
import { freePort } from '../support/ports.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { startRealProvider, type RealProvider } from './real-provider.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const STEP_TIMEOUT = 15_000;
const SHOTS = process.env['TETHER_SHOTS'] ?? mkdtempSync(join(tmpdir(), 'tether-sso-shots-'));

let server: TestServer;
let provider: RealProvider;
let browser: Browser;
let dir: string;

before(async () => {
  const port = await freePort();
  // WebAuthn needs a domain for its relying party id (an IP address is refused): localhost, a secure context.
  const issuer = `http://localhost:${port}`;
  provider = await startRealProvider(`${issuer}/device/callback/corp`, {
    id: 'carol-7',
    claims: { preferred_username: 'carol', name: 'Carol Upstream', email: 'carol@corp.example', email_verified: true, groups: ['sre'] },
    amr: ['hwk'],
    acr: 'urn:corp:phr',
  });
  dir = mkdtempSync(join(tmpdir(), 'tether-sso-browser-'));
  writeFileSync(join(dir, 'secret'), provider.clientSecret);
  const started = await startServer({
    issuer,
    listen: { host: '127.0.0.1', port },
    device_flow: { code_ttl: '5m', interval: 1 },
    upstream_providers: [
      {
        name: 'corp',
        display_label: 'Corp SSO',
        issuer: provider.issuer,
        client_id: provider.clientId,
        client_secret_file: join(dir, 'secret'),
        scopes: ['openid', 'email', 'profile', 'groups'],
        allowed_email_domains: ['corp.example'],
      },
    ],
  });
  // The redirect URI registered at the provider names the port, so the server listens where the test chose.
  server = { ...started, issuer };
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await provider?.close();
  rmSync(dir, { recursive: true, force: true });
});

const desktop = { viewport: { width: 1280, height: 800 } };
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The person checks the code against the device and presses Approve. */
async function confirmAndApprove(page: Page, userCode: string): Promise<void> {
  await page.getByRole('heading', { name: 'Check the code' }).waitFor();
  assert.equal((await page.locator('.code').innerText()).trim(), userCode);
  await page.getByRole('button', { name: 'Yes, the codes match' }).click();
  await page.getByRole('heading', { name: 'Allow Tether CLI to act as you?' }).waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('heading', { name: 'Device approved' }).waitFor();
}

/** A virtual platform authenticator with user verification (a laptop's fingerprint reader), over CDP. */
async function withAuthenticator(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

describe('enterprise sign-in in Chromium', { timeout: 120_000 }, () => {
  test('oidc-provider: Chromium follows the redirects there and back and approves a device code signed in through it', async () => {
    const codes = await authorize(server);
    const context = await browser.newContext(desktop);
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      await page.goto(codes.verification_uri_complete);
      await page.getByRole('heading', { name: 'Sign in to connect a device' }).waitFor();
      const sso = page.getByRole('link', { name: 'Sign in with Corp SSO' });
      assert.ok(await sso.isVisible());
      await shot(page, 'sign-in-choices-desktop');
      await sso.click();
      // At the provider (another origin): its own login page.
      await page.getByRole('heading', { name: 'Corp identity provider' }).waitFor();
      assert.equal(new URL(page.url()).origin, provider.issuer);
      await page.getByRole('button', { name: 'Continue as Carol Upstream' }).click();
      // Back at Tether, signed in, with the code from the link to confirm.
      await confirmAndApprove(page, codes.user_code);
      assert.equal(new URL(page.url()).origin, server.issuer);
    } finally {
      await context.close();
    }
    const reply = await redeem(server, codes.device_code);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const claims = decodeJwt(String(reply.body['access_token']));
    assert.equal(claims.sub, 'corp:carol-7');
    assert.deepEqual(claims['groups'], ['sre']);
    const audit = new SqlAuditLog(server.tether.db);
    const signedIn = (await audit.query({ type: 'user.signed_in' })).filter((e) => e.userId === 'corp:carol-7').at(-1);
    assert.deepEqual(signedIn?.data['amr'], ['hwk']);
    assert.equal(signedIn?.data['acr'], 'urn:corp:phr');
    assert.equal(signedIn?.data['phishing_resistant'], true, 'the provider\'s hwk maps to a phishing-resistant sign-in');
  });

  test('the sign-in choices on a phone', async () => {
    const context = await browser.newContext(phone);
    try {
      const page = await context.newPage();
      await page.goto(`${server.issuer}/device`);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
      await shot(page, 'sign-in-choices-phone');
    } finally {
      await context.close();
    }
  });

  test('without JavaScript the passkey button stays hidden and the password form works', async () => {
    const codes = await authorize(server);
    const context = await browser.newContext({ ...desktop, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      await page.goto(codes.verification_uri_complete);
      assert.equal(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible(), false);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await confirmAndApprove(page, codes.user_code);
    } finally {
      await context.close();
    }
  });

  test('passkeys: registered after a password sign-in, then signing in without a password; removed, it signs in no more', async () => {
    const context = await browser.newContext(desktop);
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      const authenticator = await withAuthenticator(context, page);

      // Password sign-in, then the passkey page from the account bar.
      await page.goto(`${server.issuer}/device`);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
      await page.getByRole('link', { name: 'Passkeys' }).click();
      await page.getByRole('heading', { name: 'Your passkeys' }).waitFor();
      assert.match(await page.locator('main').innerText(), /No passkeys yet/);
      await page.getByLabel('Name for the new passkey').fill('Work laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByText('Passkey added.').waitFor();
      assert.match(await page.locator('ul.passkeys').innerText(), /Work laptop/);
      const [credential] = await authenticator.credentials();
      assert.ok(credential?.isResidentCredential, 'a discoverable credential (sign-in needs no username)');
      await shot(page, 'passkeys-desktop');
      await page.setViewportSize({ width: 390, height: 844 });
      await shot(page, 'passkeys-phone-viewport');
      await page.setViewportSize({ width: 1280, height: 800 });

      // A new device asks; the person signs in with the passkey alone.
      await page.getByRole('button', { name: 'Switch account' }).click();
      const codes = await authorize(server);
      await page.goto(codes.verification_uri_complete);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await confirmAndApprove(page, codes.user_code);
      const audit = new SqlAuditLog(server.tether.db);
      const approval = (await audit.query({ type: 'device.approved' })).filter((e) => e.deviceAuthorizationId !== null).at(-1);
      assert.equal(approval?.data['auth_method'], 'passkey');
      assert.equal(approval?.userId, 'alice');
      assert.equal((await redeem(server, codes.device_code)).status, 200);
      const [used] = await authenticator.credentials();
      assert.ok((used?.signCount ?? 0) >= 1, 'the authenticator signed');

      // Remove it: the list is empty, and the authenticator's copy no longer signs anyone in.
      await page.goto(`${server.issuer}/device/passkeys`);
      await page.getByRole('button', { name: 'Remove Work laptop' }).click();
      await page.getByText('Passkey removed.').waitFor();
      assert.match(await page.locator('main').innerText(), /No passkeys yet/);
      await page.getByRole('button', { name: 'Switch account' }).click();
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByText('That passkey could not sign you in.').waitFor();
      assert.doesNotMatch(await page.locator('main').innerText(), /Signed in as/);
    } finally {
      await context.close();
    }
  });

  test('the passkey page on a phone', async () => {
    const context = await browser.newContext(phone);
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT);
      await withAuthenticator(context, page);
      await page.goto(`${server.issuer}/device`);
      await page.getByLabel('Username').fill('bob');
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.goto(`${server.issuer}/device/passkeys`);
      await page.getByLabel('Name for the new passkey').fill('Phone');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await page.getByText('Passkey added.').waitFor();
      await shot(page, 'passkeys-phone');
    } finally {
      await context.close();
    }
  });
});
