// Guessing passwords on the verification page: slowed per account (never locked), slowed then blocked per address,
// every failure audited, CSRF before any argon2 work, and a bounded queue so a flood cannot starve polls.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { FormBrowser } from '../support/browser-form.js';
import { authorize, redeem } from '../support/device-flow.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { assertHumanPage } from '../support/page-checks.js';

function browserAt(server: TestServer, ip: string): FormBrowser {
  return new FormBrowser(server.issuer, {}, { app: server.tether.http, remoteAddress: ip });
}

async function attempt(browser: FormBrowser, username: string, password: string) {
  await browser.get('/device');
  const page = await browser.post('/device/sign-in', { username, password });
  return { status: browser.lastStatus, signedIn: page.includes('action="/device"') && !page.includes('action="/device/sign-in"'), page };
}

async function auditCount(server: TestServer, type: string): Promise<number> {
  const rows = await server.tether.db.selectFrom('audit_events').select('type').where('type', '=', type).execute();
  return rows.length;
}

describe('password guessing', () => {
  it('does not let 30 quick wrong passwords be followed by a 31st, correct, sign-in', async () => {
    const server = await startServer();
    try {
      const attacker = browserAt(server, '203.0.113.5');
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await attempt(attacker, 'alice', `guess ${i}`)).status);
      const last = await attempt(attacker, 'alice', TEST_PASSWORD);
      assert.ok(!last.signedIn, 'the 31st attempt, with the right password, signed in at full speed');
      assert.equal(last.status, 429);
      assert.ok(statuses.filter((s) => s === 429).length >= 20, `most guesses were held back (${statuses.join(' ')})`);
      assert.match(attacker.lastHeaders.get('retry-after') ?? '', /^\d+$/);
      assertHumanPage(attacker.lastHeaders, attacker.lastPage, 'sign-in rate limited');
      // Every failure and every refusal is in the audit log.
      assert.equal(await auditCount(server, 'user.sign_in_failed'), 31);
    } finally {
      await server.close();
    }
  });

  it('slows the account but never locks its owner out, and blocks the source', async () => {
    const clock = new FakeClock(Math.floor(Date.now() / 1000));
    const server = await startServer({}, clock);
    try {
      // An attacker hammers alice from one address, a minute at a time, for an hour.
      const attacker = browserAt(server, '203.0.113.7');
      for (let minute = 0; minute < 60; minute++) {
        await attempt(attacker, 'alice', 'not the password');
        clock.advance(60);
      }
      // The source is blocked now, even for a right password of another account...
      const blocked = await attempt(attacker, 'bob', TEST_PASSWORD);
      assert.equal(blocked.status, 429, 'the guessing address is blocked');
      assert.ok(!blocked.signedIn);
      // ...while alice, from her own address, waits at most the account's longest delay (30 s) and gets in.
      const alice = browserAt(server, '192.0.2.20');
      let result = await attempt(alice, 'alice', TEST_PASSWORD);
      if (!result.signedIn) {
        assert.equal(result.status, 429);
        const wait = Number(alice.lastHeaders.get('retry-after'));
        assert.ok(wait >= 1 && wait <= 30, `the account's delay is capped (${wait} s)`);
        clock.advance(wait);
        result = await attempt(alice, 'alice', TEST_PASSWORD);
      }
      assert.ok(result.signedIn, `alice is not locked out (HTTP ${result.status})`);
    } finally {
      await server.close();
    }
  });

  it('checks CSRF before any password work, so a forged sign-in costs nothing and counts nothing', async () => {
    const server = await startServer();
    try {
      const forged = browserAt(server, '203.0.113.9');
      await forged.get('/device');
      for (let i = 0; i < 20; i++) {
        await forged.post('/device/sign-in', { csrf: 'forged', username: 'alice', password: TEST_PASSWORD });
        assert.equal(forged.lastStatus, 403);
      }
      assert.equal(await auditCount(server, 'user.sign_in_failed'), 0, 'no password was checked');
      assert.equal(await auditCount(server, 'user.signed_in'), 0, 'no password was checked');
      // A tampered code seal is refused the same way.
      await forged.get('/device');
      await forged.post('/device/sign-in', { carry: 'typed.BCDFGHJKLMNP.x', username: 'alice', password: TEST_PASSWORD });
      assert.equal(forged.lastStatus, 403);
      assert.equal(await auditCount(server, 'user.signed_in'), 0);
      // And the address was not slowed by what it could not have sent from a real page.
      assert.ok((await attempt(forged, 'alice', TEST_PASSWORD)).signedIn);
    } finally {
      await server.close();
    }
  });

  it('keeps answering polls during a flood of sign-ins, and turns away what the queue cannot hold', async () => {
    const server = await startServer();
    try {
      const codes = await authorize(server);
      // 240 sign-ins with made-up names from 24 addresses (10 each, within every free allowance), all at once.
      const browsers: Array<{ browser: FormBrowser; username: string }> = [];
      for (let a = 0; a < 24; a++) {
        for (let i = 0; i < 10; i++) {
          const browser = browserAt(server, `198.51.100.${a + 1}`);
          await browser.get('/device');
          browsers.push({ browser, username: `flood-${randomUUID()}` });
        }
      }
      let flooding = true;
      const flood = Promise.all(browsers.map(({ browser, username }) => browser.post('/device/sign-in', { username, password: 'x' }))).finally(() => {
        flooding = false;
      });
      const latencies: number[] = [];
      while (flooding || latencies.length < 5) {
        const started = performance.now();
        const reply = await redeem(server, codes.device_code);
        latencies.push(performance.now() - started);
        assert.ok(reply.status === 400 && ['authorization_pending', 'slow_down'].includes(String(reply.body['error'])), JSON.stringify(reply.body));
      }
      await flood;
      const statuses = browsers.map(({ browser }) => browser.lastStatus);
      const busy = browsers.filter(({ browser }) => browser.lastStatus === 503);
      assert.ok(busy.length > 0, `the bounded queue turned some away (${[...new Set(statuses)].join(' ')})`);
      assert.equal(busy[0]?.browser.lastHeaders.get('retry-after'), '1');
      assert.ok(statuses.every((s) => s === 401 || s === 503), [...new Set(statuses)].join(' '));
      const worst = Math.max(...latencies);
      assert.ok(worst < 1500, `a poll waited ${Math.round(worst)} ms during the flood (polls: ${latencies.length})`);
    } finally {
      await server.close();
    }
  });
});
