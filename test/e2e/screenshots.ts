/**
 * Takes a PNG of every verification page, for a person to look at. Run by hand, not part of `npm test`:
 *
 *   npx tsx test/e2e/screenshots.ts [output folder, default /tmp/shots]
 *
 * The server listens on all interfaces, so the "different network" warning is real: the device asks from this
 * machine's non-loopback address while the browser approves from 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, TEST_PASSWORD } from '../support/in-process.js';
import { freePort } from '../support/ports.js';

const OUT = process.argv[2] ?? '/tmp/shots';
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const DEVICE_UA = 'tether-cli/0.1.0 (linux; x64) node/20';

/** A wrong code that is code-shaped (consonants only, 12 letters), so the server looks it up and counts the miss. */
const WRONG_CODE = 'BCDF-GHJK-LMNP';

function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no non-loopback IPv4 address: the different-network screenshot needs one');
}

mkdirSync(OUT, { recursive: true });
const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const server = await startServer({
  issuer,
  listen: { host: '0.0.0.0', port },
  device_flow: { code_ttl: '5m', interval: 5 },
});
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

const desktop = { viewport: { width: 1280, height: 800 } };
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const shots: string[] = [];

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage });
  shots.push(path);
}

/** A device asks for a code, from `host` (127.0.0.1 = same machine as the browser). */
async function requestCode(host = '127.0.0.1', scope = 'read write'): Promise<{ user_code: string; verification_uri_complete: string }> {
  const response = await fetch(`http://${host}:${port}/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': DEVICE_UA },
    body: new URLSearchParams({ client_id: 'tether-cli', scope }),
  });
  if (!response.ok) throw new Error(`device authorization failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as { user_code: string; verification_uri_complete: string };
}

async function fresh(options = desktop): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}

async function signIn(page: Page, password = TEST_PASSWORD, username = 'alice'): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function toReview(page: Page, uri: string): Promise<void> {
  await page.goto(uri);
  await signIn(page);
  await page.getByRole('button', { name: 'Yes, the codes match' }).click();
  await page.getByRole('button', { name: 'Approve' }).waitFor();
}

try {
  // Sign-in first (once wrongly), then code entry: empty, with a typo, with a code that matches nothing, and
  // rate limited after repeated misses. As bob: the misses slow his account, not alice's.
  {
    const { context, page } = await fresh();
    await page.goto(`${issuer}/device`);
    await shot(page, '01-sign-in');
    await signIn(page, 'not the password', 'bob');
    await shot(page, '02-sign-in-wrong-password');
    await signIn(page, TEST_PASSWORD, 'bob');
    await shot(page, '03-code-entry');
    await page.getByLabel('Code from your device').fill('ABCD-EFGH');
    await page.getByRole('button', { name: 'Continue' }).click();
    await shot(page, '04-code-entry-typo');
    await page.getByLabel('Code from your device').fill(WRONG_CODE);
    await page.getByRole('button', { name: 'Continue' }).click();
    await shot(page, '05-wrong-code');
    for (let i = 0; i < 6 && !(await page.getByText(/Too many codes/).isVisible()); i++) {
      await page.getByLabel('Code from your device').fill(WRONG_CODE);
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    await shot(page, '06-rate-limited');
    await context.close();
  }

  // The happy path from the link: sign in with the code carried, confirm it, review, approve.
  {
    const device = await requestCode();
    const { context, page } = await fresh();
    await page.goto(device.verification_uri_complete);
    await shot(page, '07-sign-in-with-code');
    await signIn(page);
    await shot(page, '08-confirm-code');
    await page.getByRole('button', { name: 'Yes, the codes match' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await shot(page, '09-review');
    await page.getByRole('button', { name: 'Switch account' }).click();
    await shot(page, '09b-switch-account');
    await signIn(page);
    await page.getByRole('button', { name: 'Yes, the codes match' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await shot(page, '10-approved');
    await context.close();
  }

  // The phishing case: the device asked from another address than the browser's.
  {
    const device = await requestCode(lanAddress(), 'read write');
    const { context, page } = await fresh();
    await toReview(page, device.verification_uri_complete);
    await shot(page, '11-review-different-network');
    await shot(page, '11b-review-different-network-above-the-fold', false);
    await page.getByRole('button', { name: 'Deny' }).click();
    await shot(page, '12-denied');
    await context.close();
  }

  // The same on a phone, where most people approve.
  {
    const device = await requestCode(lanAddress());
    const { context, page } = await fresh(phone);
    await page.goto(device.verification_uri_complete);
    await shot(page, '20-phone-sign-in-with-code');
    await signIn(page);
    await shot(page, '21-phone-confirm-code');
    await page.getByRole('button', { name: 'Yes, the codes match' }).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();
    await shot(page, '22-phone-review-different-network');
    await shot(page, '22b-phone-review-above-the-fold', false);
    await page.goto(`${issuer}/device`);
    await page.getByLabel('Code from your device').fill('ABCD-EFGH');
    await page.getByRole('button', { name: 'Continue' }).click();
    await shot(page, '23-phone-code-entry-typo');
    await context.close();
  }

  // A form whose session is gone (cookie cleared, as after a long wait or a restarted browser).
  {
    const { context, page } = await fresh();
    await page.goto(`${issuer}/device`);
    await context.clearCookies();
    await signIn(page);
    await shot(page, '13-form-expired');
    await context.close();
  }

  // Decided in another tab meanwhile: the second tab's Deny finds nothing waiting.
  {
    const device = await requestCode();
    const { context, page } = await fresh();
    await toReview(page, device.verification_uri_complete);
    const other = await context.newPage();
    await other.goto(device.verification_uri_complete);
    await other.getByRole('button', { name: 'Yes, the codes match' }).click();
    await other.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('button', { name: 'Deny' }).click();
    await shot(page, '14-no-longer-waiting');
    await context.close();
  }

  // Policy narrows what is granted: the review lists the scopes that will be granted, and those withheld.
  {
    const dir = mkdtempSync(join(tmpdir(), 'tether-shot-policies-'));
    writeFileSync(
      join(dir, 'narrow.cedar'),
      '@id("all-but-approve")\npermit (principal, action, resource) unless { action == Tether::Action::"Approve" };\n' +
        '@id("approve-read-only")\n@scopes("read")\npermit (principal, action == Tether::Action::"Approve", resource);\n',
    );
    const narrow = await startServer({ policy: { path: dir } });
    try {
      const response = await fetch(`${narrow.issuer}/device_authorization`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': DEVICE_UA },
        body: new URLSearchParams({ client_id: 'tether-cli', scope: 'read write' }),
      });
      const device = (await response.json()) as { verification_uri_complete: string };
      for (const [options, name] of [[desktop, '16-review-narrowed-scopes'], [phone, '24-phone-review-narrowed-scopes']] as const) {
        const { context, page } = await fresh(options);
        await toReview(page, device.verification_uri_complete);
        await shot(page, name);
        await context.close();
      }
    } finally {
      await narrow.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // A page that does not exist.
  {
    const { context, page } = await fresh();
    await page.goto(`${issuer}/device/nothing-here`);
    await shot(page, '15-not-found');
    await context.close();
  }

  console.log(shots.join('\n'));
} finally {
  await browser.close();
  await server.close();
}
