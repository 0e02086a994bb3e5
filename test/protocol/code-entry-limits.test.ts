import { hashSecret } from '../../src/shared/crypto.js';
// Guessing user codes (RFC 8628 §5.1): the person signs in first, and failures slow only the account, browser session
// and address that failed. Nobody who did not fail is refused; a server-wide count only raises an alarm.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, authorize, redeem } from '../support/device-flow.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { assertHumanPage } from '../support/page-checks.js';

const METRICS_TOKEN = 'tether_metrics_scraper_token_for_code_entry_tests';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** A well-formed user code that no request holds (20^12 codes; a collision with a live one is negligible). */
function wrongCode(): string {
  const letters = Array.from({ length: 12 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4, 8)}-${letters.slice(8)}`;
}

/** A browser at `ip`, in process (inject's remoteAddress), signed in as `username`. */
async function signedIn(server: TestServer, ip: string, username: string): Promise<FormBrowser> {
  const browser = new FormBrowser(server.issuer, {}, { app: server.tether.http, remoteAddress: ip });
  const page = await browser.signIn(username, TEST_PASSWORD);
  assert.ok(page.includes('action="/device"'), `${username} at ${ip} signed in (HTTP ${browser.lastStatus})`);
  return browser;
}

/** A device authorization request from `ip`, in process. */
async function deviceRequest(server: TestServer, ip: string) {
  const response = await server.tether.http.inject({
    method: 'POST',
    url: '/device_authorization',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'client_id=tether-cli&scope=read',
    remoteAddress: ip,
  });
  return { status: response.statusCode, headers: response.headers, body: response.json() as Record<string, unknown> };
}

/** HTTP 429 as a readable page with a Retry-After of at most `maxSeconds`, and the code not checked. */
function assertLimited(browser: FormBrowser, maxSeconds: number, where: string): number {
  assert.equal(browser.lastStatus, 429, where);
  const retryAfter = browser.lastHeaders.get('retry-after') ?? '';
  assert.match(retryAfter, /^\d+$/, `${where}: Retry-After is delay-seconds`);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1 && seconds <= maxSeconds, `${where}: Retry-After ${seconds}`);
  assertHumanPage(browser.lastHeaders, browser.lastPage, where);
  assert.ok(!browser.lastPage.includes('action="/device/decision"'), `${where}: the code was not checked`);
  return seconds;
}

describe('code entry limits', () => {
  it('survives the exact attack: floods of device requests and wrong guesses from many addresses and sessions', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    // Default limits, but the real per-address caps on device requests (startServer relaxes them for other tests),
    // and a low alarm so the test sees it sound.
    const server = await startServer(
      { brute_force: { code_entry: { alarm_failures: 20 } }, metrics: { bearer_token_hashes: [hashSecret(METRICS_TOKEN)] } },
      clock,
    );
    try {
      // 1. Device requests from twenty addresses until each is refused: 429, Retry-After, RFC JSON.
      let refused = 0;
      for (let a = 1; a <= 20; a++) {
        for (let i = 0; i < 25; i++) {
          const reply = await deviceRequest(server, `203.0.113.${a}`);
          if (reply.status === 200) continue;
          assert.equal(reply.status, 429);
          assert.equal(reply.body['error'], 'slow_down');
          assert.match(String(reply.headers['retry-after']), /^\d+$/);
          refused++;
        }
      }
      assert.equal(refused, 20 * 5, 'each address holds at most 20 live codes');

      // 2. Wrong guesses: the attacker's own account (bob) from many addresses and sessions, and anonymous posts.
      let guesses = 0;
      let limited = 0;
      for (let a = 1; a <= 10; a++) {
        for (let session = 0; session < 3; session++) {
          const attacker = await signedIn(server, `198.51.100.${a}`, 'bob');
          for (let i = 0; i < 5; i++) {
            await attacker.post('/device', { user_code: wrongCode() });
            guesses++;
            if (attacker.lastStatus === 429) limited++;
            else assert.equal(attacker.lastStatus, 400);
          }
        }
        const anonymous = new FormBrowser(server.issuer, {}, { app: server.tether.http, remoteAddress: `198.51.100.${a}` });
        await anonymous.get('/device');
        await anonymous.post('/device', { user_code: wrongCode() });
        assert.ok(anonymous.lastPage.includes('action="/device/sign-in"'), 'no code is checked before sign-in');
      }
      assert.ok(limited > guesses - 15, `bob's account got at most ~10 guesses checked (limited ${limited} of ${guesses})`);

      // 3. The alarm sounded, as a metric, an audit event and a warning; it refused nobody.
      const metrics = await server.tether.http.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      assert.match(metrics.body, /tether_verification_failure_alarms_total\{kind="user_code"\} [1-9]/);
      const alarms = await server.tether.db.selectFrom('audit_events').select('type').where('type', '=', 'verification.failure_alarm').execute();
      assert.ok(alarms.length >= 1, 'an audit event records the alarm');
      assert.ok(server.logs.some((line) => line.includes('"level":40') && line.includes('ALARM')), 'a warning is logged');

      // 4. The person: a code for their device, a fresh browser at their own address, and it goes through.
      const mine = await authorize(server, { client_id: 'tether-cli', scope: 'read' });
      const alice = await signedIn(server, '192.0.2.10', 'alice');
      const review = await alice.post('/device', { user_code: mine.user_code });
      assert.equal(alice.lastStatus, 200, `the person's correct code was refused (HTTP ${alice.lastStatus})`);
      assert.ok(review.includes('action="/device/decision"'));
      assert.ok((await alice.post('/device/decision', { decision: 'approve' })).includes('Device approved'));
      assert.equal((await redeem(server, mine.device_code)).status, 200);
    } finally {
      await server.close();
    }
  });

  it('slows an account with growing delays after its free failures, whatever the session or address', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    const server = await startServer({}, clock);
    try {
      // Defaults: 3 free failures, then 2 s, 4 s, 8 s... and at most 10 failures an hour per account.
      for (let i = 0; i < 3; i++) {
        const bob = await signedIn(server, `198.51.100.${i + 1}`, 'bob');
        await bob.post('/device', { user_code: wrongCode() });
        assert.equal(bob.lastStatus, 400, `free failure ${i + 1}`);
      }
      const fresh = await signedIn(server, '198.51.100.50', 'bob');
      await fresh.post('/device', { user_code: wrongCode() });
      assert.equal(fresh.lastStatus, 400, 'the first failure past the free ones is checked');
      await fresh.post('/device', { user_code: wrongCode() });
      const wait = assertLimited(fresh, 2, 'second failure past the free ones, at once');
      clock.advance(wait);
      await fresh.post('/device', { user_code: wrongCode() });
      assert.equal(fresh.lastStatus, 400, 'checked again after the delay');
      await fresh.post('/device', { user_code: wrongCode() });
      assert.equal(assertLimited(fresh, 4, 'the delay doubles'), 4);

      // Alice, at one of the addresses bob used, is not slowed by bob's account.
      const alice = await signedIn(server, '198.51.100.1', 'alice');
      const mine = await authorize(server);
      assert.ok((await alice.post('/device', { user_code: mine.user_code })).includes('action="/device/decision"'));

      // The hard cap: 10 failures an hour, then refused until the oldest is an hour old.
      for (let i = 0; i < 10; i++) {
        clock.advance(300);
        await fresh.post('/device', { user_code: wrongCode() });
      }
      assertLimited(fresh, 3600, 'per-account cap');
      const victim = await authorize(server);
      await fresh.post('/device', { user_code: victim.user_code });
      assertLimited(fresh, 3600, 'per-account cap, right code');
    } finally {
      await server.close();
    }
  });

  it('slows one client address after its failures, across accounts', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    const perIp = { free_failures: 2, max_failures: 3 };
    const server = await startServer({ brute_force: { code_entry: { per_ip: perIp } } }, clock);
    try {
      const bob = await signedIn(server, '203.0.113.9', 'bob');
      for (let i = 0; i < 2; i++) assert.equal((await bob.post('/device', { user_code: wrongCode() }), bob.lastStatus), 400);
      const alice = await signedIn(server, '203.0.113.9', 'alice');
      await alice.post('/device', { user_code: wrongCode() });
      assert.equal(alice.lastStatus, 400);
      const live = await authorize(server);
      await alice.post('/device', { user_code: live.user_code });
      assertLimited(alice, 3600, 'per-IP');
      // The same account at another address is not held back by that address.
      const elsewhere = await signedIn(server, '192.0.2.44', 'alice');
      assert.ok((await elsewhere.post('/device', { user_code: live.user_code })).includes('action="/device/decision"'));
    } finally {
      await server.close();
    }
  });

  // The limits guard the code-entry form. The later forms (sign-in, approve/deny) must not be a way around them:
  // naming a code there must neither act on it nor tell a live code from a wrong one.

  it('does not let the decision form be used to guess codes', async () => {
    const server = await startServer();
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
    const server = await startServer();
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

  it('accepts a correct code when no guess has failed, even with many codes live', async () => {
    const server = await startServer();
    try {
      const codes = [];
      for (let i = 0; i < 30; i++) codes.push(await authorize(server));
      const mine = codes[29];
      assert.ok(mine);
      const alice = await signedIn(server, '192.0.2.1', 'alice');
      const page = await alice.post('/device', { user_code: mine.user_code });
      assert.equal(alice.lastStatus, 200, `a correct code with zero failed guesses was refused (HTTP ${alice.lastStatus})`);
      assert.ok(page.includes('action="/device/decision"'));
    } finally {
      await server.close();
    }
  });
});
