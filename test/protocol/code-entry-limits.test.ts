// Brute-force limits on user-code entry (RFC 8628 §5.1): per IP, per browser session and a server-wide budget.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, authorize, redeem } from '../support/device-flow.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { assertHumanPage } from '../support/page-checks.js';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** A well-formed user code that no request holds (20^8 codes; a collision with a live one is negligible). */
function wrongCode(): string {
  const letters = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

/** Opens the page in a fresh browser session and enters `code`. */
async function enter(server: TestServer, code: string, browser = new FormBrowser(server.issuer)) {
  if (!browser.csrf()) await browser.get('/device');
  const page = await browser.post('/device', { user_code: code });
  return { browser, page, status: browser.lastStatus };
}

/** HTTP 429 as a readable page with a Retry-After of at most `maxSeconds`. */
function assertLimited(browser: FormBrowser, maxSeconds: number, where: string): number {
  assert.equal(browser.lastStatus, 429, where);
  const retryAfter = browser.lastHeaders.get('retry-after') ?? '';
  assert.match(retryAfter, /^\d+$/, `${where}: Retry-After is delay-seconds`);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1 && seconds <= maxSeconds, `${where}: Retry-After ${seconds}`);
  assertHumanPage(browser.lastHeaders, browser.lastPage, where);
  assert.ok(!browser.lastPage.includes('action="/device/sign-in"'), `${where}: the code was not checked`);
  return seconds;
}

const generous = { per_ip_failures: 1000, per_session_failures: 1000, window: '15m', max_guess_probability: 0.01 };

describe('code entry limits', () => {
  it('stops one browser session after its failures, with 429 and Retry-After', async () => {
    const server = await startServer({ brute_force: { ...generous, per_session_failures: 3 } });
    try {
      const live = await authorize(server);
      const browser = new FormBrowser(server.issuer);
      for (let i = 0; i < 3; i++) assert.equal((await enter(server, wrongCode(), browser)).status, 400);
      await enter(server, wrongCode(), browser);
      assertLimited(browser, 900, 'per-session');
      // The right code is not checked either from this session...
      await enter(server, live.user_code, browser);
      assertLimited(browser, 900, 'per-session, right code');
      // ...while another browser continues normally.
      const other = await enter(server, live.user_code);
      assert.equal(other.status, 200);
      assert.ok(other.page.includes('action="/device/sign-in"'));
    } finally {
      await server.close();
    }
  });

  it('stops one client address after its failures, whatever the session or X-Forwarded-For', async () => {
    const server = await startServer({ brute_force: { ...generous, per_ip_failures: 4 } });
    try {
      const live = await authorize(server);
      for (let i = 0; i < 4; i++) {
        const forwarded = new FormBrowser(server.issuer, { 'x-forwarded-for': `203.0.113.${i + 1}` });
        assert.equal((await enter(server, wrongCode(), forwarded)).status, 400);
      }
      const fresh = new FormBrowser(server.issuer, { 'x-forwarded-for': '198.51.100.7' });
      await enter(server, live.user_code, fresh);
      assertLimited(fresh, 900, 'per-IP');
    } finally {
      await server.close();
    }
  });

  it('pauses entry for everyone when the server-wide budget is spent, until failures age out', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    // Default max_guess_probability (2^-32): with one live code the budget is 5 failures per code lifetime.
    const server = await startServer({ brute_force: { per_ip_failures: 1000, per_session_failures: 1000 } }, clock);
    try {
      const live = await authorize(server);
      for (let i = 0; i < 5; i++) {
        // Each guess from its own session, as a distributed attacker would.
        assert.equal((await enter(server, wrongCode())).status, 400, `guess ${i + 1}`);
      }
      const victim = await enter(server, live.user_code);
      const retryAfter = assertLimited(victim.browser, 300, 'global budget');

      clock.advance(retryAfter);
      const next = await authorize(server);
      const resumed = await enter(server, next.user_code);
      assert.equal(resumed.status, 200, 'entry resumes once the failures are a code lifetime old');
      assert.ok(resumed.page.includes('action="/device/sign-in"'));
    } finally {
      await server.close();
    }
  });

  // The limits guard the code-entry form. The later forms (sign-in, approve/deny) must not be a way around them:
  // naming a code there must neither act on it nor tell a live code from a wrong one.

  it('does not let the decision form be used to guess codes', async () => {
    const server = await startServer({ brute_force: { ...generous, per_session_failures: 3, per_ip_failures: 3 } });
    try {
      // An attacker signs in with an account of their own; the session is then allowed to decide.
      const own = await authorize(server);
      const attacker = new FormBrowser(server.issuer);
      await attacker.decide(own.user_code, 'approve', 'bob');
      await attacker.get('/device');
      const csrf = attacker.csrf();
      const victim = await authorize(server);

      const wrong: number[] = [];
      for (let i = 0; i < 6; i++) {
        await attacker.post('/device/decision', { csrf, user_code: wrongCode(), decision: 'deny' });
        wrong.push(attacker.lastStatus);
      }
      await attacker.post('/device/decision', { csrf, user_code: victim.user_code, decision: 'deny' });
      const right = attacker.lastStatus;
      assertOAuthError(await redeem(server, victim.device_code), 'authorization_pending');
      assert.ok(
        right === 429 || wrong.every((status) => status === right),
        `the decision form answers a live code (${right}) unlike wrong ones (${wrong.join(' ')}), unlimited`,
      );
    } finally {
      await server.close();
    }
  });

  it('does not let the sign-in form be used to guess codes', async () => {
    const server = await startServer({ brute_force: { ...generous, per_session_failures: 3, per_ip_failures: 3 } });
    try {
      const victim = await authorize(server);
      const attacker = new FormBrowser(server.issuer);
      const attempt = async (code: string) => {
        await attacker.get('/device');
        await attacker.post('/device/sign-in', { user_code: code, username: 'bob', password: TEST_PASSWORD });
        return { status: attacker.lastStatus, review: attacker.lastPage.includes('action="/device/decision"') };
      };
      const wrong = [];
      for (let i = 0; i < 5; i++) wrong.push(await attempt(wrongCode()));
      const right = await attempt(victim.user_code);
      assert.ok(!right.review, 'signing in with a guessed code reached the review screen of a live request');
      assert.ok(
        right.status === 429 || wrong.every((w) => w.status === right.status),
        `the sign-in form answers a live code (${right.status}) unlike wrong ones (${wrong.map((w) => w.status).join(' ')}), unlimited`,
      );
    } finally {
      await server.close();
    }
  });

  it('accepts a correct code when no guess has failed, even with six codes live', async () => {
    // Default limits. Anyone can open device authorizations for a public client; with six live codes the
    // 2^-32 budget rounds down to zero failures, which must not lock out people who type their code correctly.
    const server = await startServer();
    try {
      const codes = [];
      for (let i = 0; i < 6; i++) codes.push(await authorize(server));
      const mine = codes[5];
      assert.ok(mine);
      const { browser, status, page } = await enter(server, mine.user_code);
      assert.equal(
        status,
        200,
        `a correct code with zero failed guesses was refused (HTTP ${status}, Retry-After ${browser.lastHeaders.get('retry-after')})`,
      );
      assert.ok(page.includes('action="/device/sign-in"'));
    } finally {
      await server.close();
    }
  });
});
