// The verification page (RFC 8628 §3.3): sign-in first, code entry as people type it, CSRF, the session cookie and
// page headers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyReply } from 'fastify';
import { sessionCookie, setSessionCookie } from '../../src/http/cookies.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, authorize, redeem } from '../support/device-flow.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { assertStrictCsp, offersPasskeys } from '../support/page-checks.js';

describe('verification page', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('accepts the user code in lower case, with a space or with no separator at all', async () => {
    for (const shape of [
      (c: string) => c.toLowerCase().replace('-', ' '),
      (c: string) => c.toLowerCase().replaceAll('-', ''),
      (c: string) => ` ${c.slice(0, 2)}-${c.slice(2, 4).toLowerCase()} ${c.slice(5, 7)} - ${c.slice(7).toLowerCase()} `,
      (c: string) => c.replaceAll('-', '\t').toLowerCase(),
    ]) {
      const codes = await authorize(server);
      const browser = new FormBrowser(server.issuer);
      const typed = shape(codes.user_code);
      const page = await browser.decide(typed, 'approve');
      assert.ok(page.includes('Device approved'), `"${typed}" → HTTP ${browser.lastStatus}`);
      const reply = await redeem(server, codes.device_code);
      assert.equal(reply.status, 200, `token for "${typed}"`);
    }
  });

  it('asks for sign-in first, carries the code from verification_uri_complete through it, then asks to confirm it', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    const link = new URL(codes.verification_uri_complete);
    const signIn = await browser.get(`${link.pathname}${link.search}`);
    assert.equal(browser.lastStatus, 200);
    assert.ok(signIn.includes('action="/device/sign-in"'), 'sign-in comes first');
    assert.ok(signIn.includes(codes.user_code), 'the sign-in page says which code comes next');
    assert.ok(!signIn.includes(`value="${codes.user_code}"`), 'the code rides sealed, not as a plain field to edit');
    const confirm = await browser.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
    assert.equal(browser.lastStatus, 200);
    assert.ok(confirm.includes(codes.user_code), 'the page shows the code to compare');
    assert.ok(confirm.includes('Yes, the codes match'));
    assert.ok(!confirm.includes('action="/device/decision"'), 'no Approve button before the person confirms');
    const review = await browser.post('/device', { user_code: codes.user_code.toLowerCase() });
    assert.ok(review.includes('action="/device/decision"'));
    // A tampered seal is refused before any password is checked.
    const other = new FormBrowser(server.issuer);
    await other.get(`${link.pathname}${link.search}`);
    await other.post('/device/sign-in', { carry: 'link.BCDFGHJKLMNP.forged', username: 'alice', password: TEST_PASSWORD });
    assert.equal(other.lastStatus, 403);
  });

  it('does not count input that cannot be a code as a failed guess', async () => {
    const once = { free_failures: 0, max_failures: 1 };
    const limited = await startServer({ brute_force: { code_entry: { per_account: once, per_session: once, per_ip: once } } });
    try {
      const browser = new FormBrowser(limited.issuer);
      await browser.signIn();
      for (const typed of ['AAAA-AAAA-AAAA', '1234-5678-9012', 'BCDF', 'BCDF-GHJK', 'BCDF-GHJK-LMNP-Q', '']) {
        await browser.post('/device', { user_code: typed });
        assert.equal(browser.lastStatus, 400, `"${typed}"`);
      }
      // The hint says which letters codes use: a typed ABCD-EFGH-IJKL has the length, and vowels.
      const hint = await browser.post('/device', { user_code: 'ABCD-EFGH-IJKL' });
      assert.match(hint, /BCDFGHJKLMNPQRSTVWXZ/);
      assert.match(hint, /no vowels/);
      assert.match(hint, /Codes never use <span class="code-inline">A<\/span>, <span class="code-inline">E<\/span>/);
      const codes = await authorize(limited);
      const page = await browser.post('/device', { user_code: codes.user_code });
      assert.equal(browser.lastStatus, 200);
      assert.ok(page.includes('action="/device/decision"'));
    } finally {
      await limited.close();
    }
  });

  it('refuses a POST without the right CSRF token, and the request stays undecided', async () => {
    const codes = await authorize(server);
    const victim = new FormBrowser(server.issuer);
    await victim.decide(codes.user_code, 'approve', 'alice', TEST_PASSWORD);
    // Signed in, the victim's browser now reviews another request.
    const target = await authorize(server);
    await victim.get('/device');
    const review = await victim.post('/device', { user_code: target.user_code });
    assert.ok(review.includes('action="/device/decision"'));
    const csrf = victim.csrf();

    const attacker = new FormBrowser(server.issuer);
    await attacker.get('/device');
    const forged: Array<{ what: string; headers: Record<string, string>; form: Record<string, string> }> = [
      { what: 'no token', headers: {}, form: { user_code: target.user_code, decision: 'approve' } },
      { what: 'wrong token', headers: {}, form: { csrf: `${csrf.slice(0, -2)}AA`, user_code: target.user_code, decision: 'approve' } },
      { what: "another session's token", headers: {}, form: { csrf: attacker.csrf(), user_code: target.user_code, decision: 'approve' } },
    ];
    for (const attempt of forged) {
      const response = await fetch(`${server.issuer}/device/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: victim.cookieHeader, ...attempt.headers },
        body: new URLSearchParams(attempt.form),
        redirect: 'manual',
      });
      assert.equal(response.status, 403, attempt.what);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      await response.text();
    }
    // The right token without the session cookie is refused too.
    const noCookie = await fetch(`${server.issuer}/device/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, user_code: target.user_code, decision: 'approve' }),
    });
    assert.equal(noCookie.status, 403);
    await noCookie.text();
    for (const path of ['/device', '/device/sign-in']) {
      const response = await fetch(`${server.issuer}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: victim.cookieHeader },
        body: new URLSearchParams({ user_code: target.user_code, username: 'alice', password: TEST_PASSWORD }),
      });
      assert.equal(response.status, 403, path);
      await response.text();
    }
    assertOAuthError(await redeem(server, target.device_code), 'authorization_pending');
  });

  it('honours the review form only in the browser session that reached it', async () => {
    const codes = await authorize(server);
    const victim = new FormBrowser(server.issuer);
    await victim.get('/device');
    await victim.post('/device', { user_code: codes.user_code });
    const review = await victim.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
    assert.ok(review.includes('action="/device/decision"'));
    const hidden = Object.fromEntries(
      [...review.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );

    // Another signed-in person replays every hidden field of that form with their own session and CSRF token.
    const own = await authorize(server);
    const other = new FormBrowser(server.issuer);
    await other.decide(own.user_code, 'approve', 'bob');
    await other.get('/device');
    await other.post('/device/decision', { ...hidden, csrf: other.csrf(), decision: 'approve' });
    assert.notEqual(other.lastStatus, 200);
    assert.ok(!other.lastPage.includes('Device approved'));
    assertOAuthError(await redeem(server, codes.device_code), 'authorization_pending');
  });

  it('sets an HttpOnly, SameSite=Lax session cookie, not Secure over http', async () => {
    const response = await fetch(`${server.issuer}/device`);
    const setCookie = response.headers.get('set-cookie') ?? '';
    assert.ok(setCookie, 'a session cookie is set');
    const attributes = setCookie.split(';').map((a) => a.trim().toLowerCase());
    assert.ok(attributes.includes('httponly'));
    assert.ok(attributes.includes('samesite=lax'));
    assert.ok(!attributes.includes('secure'));
    assert.ok(attributes.includes('path=/'));
    await response.text();
  });

  it('replaces the session id when the person signs in', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    const before = browser.lastHeaders.get('set-cookie')?.split(';')[0];
    await browser.post('/device', { user_code: codes.user_code });
    await browser.post('/device/sign-in', { user_code: codes.user_code, username: 'alice', password: TEST_PASSWORD });
    const after = browser.lastHeaders.get('set-cookie')?.split(';')[0];
    assert.ok(before && after && before !== after, 'a new session cookie after sign-in');
  });

  it('refuses a wrong password with the sign-in form again', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    await browser.post('/device', { user_code: codes.user_code });
    const page = await browser.post('/device/sign-in', { user_code: codes.user_code, username: 'alice', password: 'wrong password' });
    assert.equal(browser.lastStatus, 401);
    assert.ok(page.includes('action="/device/sign-in"'));
    assert.ok(!page.includes('action="/device/decision"'));
  });

  it('serves every page with a strict Content-Security-Policy', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    const seen: string[] = [];
    const check = (where: string) => {
      assertStrictCsp(browser.lastHeaders, where, offersPasskeys(browser.lastPage));
      assert.match(browser.lastHeaders.get('content-type') ?? '', /^text\/html/, where);
      seen.push(where);
    };
    await browser.get('/device');
    check('sign in');
    await browser.get(`/device?user_code=${encodeURIComponent(codes.user_code)}`);
    check('sign in with a carried code');
    await browser.post('/device/sign-in', { username: 'alice', password: 'wrong password' });
    check('wrong password');
    await browser.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
    check('confirm code');
    await browser.get('/device');
    check('code entry');
    await browser.post('/device', { user_code: 'ABCD-EFGH' });
    check('not a code');
    await browser.post('/device', { user_code: 'BCDF-GHJK-LMNP' });
    check('wrong code');
    await browser.post('/device', { user_code: codes.user_code });
    check('review');
    assert.match(browser.lastHeaders.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.doesNotMatch(browser.lastHeaders.get('content-security-policy') ?? '', /script-src/, 'no script on the review page');
    await browser.post('/device/decision', { decision: 'approve' });
    check('approved');
    await browser.post('/device/decision', { decision: 'approve' });
    check('no longer waiting');
    const stranger = new FormBrowser(server.issuer);
    await stranger.post('/device', { user_code: codes.user_code });
    check('form expired (403)');
    await browser.get('/device/no-such-page');
    check('not found');
    assert.equal(seen.length, 12);
  });

  it('switches account from the review screen without losing the request', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.signIn('alice');
    const review = await browser.post('/device', { user_code: codes.user_code });
    assert.match(review, /Signed in as <strong>Alice<\/strong>/);
    assert.ok(review.includes('action="/device/sign-out"'), 'a way to switch account');
    const signIn = await browser.post('/device/sign-out', {});
    assert.ok(signIn.includes('action="/device/sign-in"'), 'signed out, asked to sign in again');
    assert.ok(signIn.includes(codes.user_code), 'the request is kept');
    const confirm = await browser.post('/device/sign-in', { username: 'bob', password: TEST_PASSWORD });
    assert.ok(confirm.includes('Yes, the codes match'), 'the new account confirms the code against the device');
    const again = await browser.post('/device', { user_code: codes.user_code });
    assert.match(again, /Signed in as <strong>Bob<\/strong>/);
    assert.ok((await browser.post('/device/decision', { decision: 'approve' })).includes('Device approved'));
    const token = await redeem(server, codes.device_code);
    assert.equal(token.status, 200);
    const claims = JSON.parse(Buffer.from(String(token.body['access_token']).split('.')[1] ?? '', 'base64url').toString()) as { sub: string };
    assert.equal(claims.sub, 'bob', 'approved as the account switched to');
  });

  it('escapes what others control: the device user agent and the typed code', async () => {
    const evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
    const codes = await authorize(server, { client_id: 'tether-cli' }, { 'user-agent': evil });
    const browser = new FormBrowser(server.issuer);
    await browser.get(`/device?user_code=${encodeURIComponent(evil)}`);
    assert.ok(!browser.lastPage.includes('<script>alert') && !browser.lastPage.includes('<img src=x'), 'code entry');
    assert.ok((await browser.decide(codes.user_code, 'approve')).includes('Device approved'));
    await browser.get('/device');
    await browser.post('/device', { user_code: evil });
    assert.equal(browser.lastStatus, 400);
    assert.ok(!browser.lastPage.includes('<script>alert') && !browser.lastPage.includes('<img src=x'), 'code error');
    const second = await authorize(server, { client_id: 'tether-cli' }, { 'user-agent': evil });
    await browser.get('/device');
    const page = await browser.post('/device', { user_code: second.user_code });
    assert.ok(page.includes('action="/device/decision"'), 'review screen');
    assert.ok(!page.includes('<script>alert') && !page.includes('<img src=x'), 'review screen');
    const failed = new FormBrowser(server.issuer);
    await failed.get('/device');
    await failed.post('/device', { user_code: second.user_code });
    await failed.post('/device/sign-in', { username: evil.slice(0, 60), password: 'x' });
    assert.equal(failed.lastStatus, 401);
    assert.ok(!failed.lastPage.includes('<script>alert') && !failed.lastPage.includes('<img src=x'), 'sign-in error');
  });
});

/**
 * The Set-Cookie header src/http/cookies.ts writes for `issuer`, split into attributes: the test servers are http,
 * so the https case is checked here, without a server.
 */
function cookieFor(issuer: string): { name: string; attributes: string[] } {
  const headers: Record<string, string> = {};
  const reply = {
    header(name: string, value: string) {
      headers[name.toLowerCase()] = value;
      return reply;
    },
  } as unknown as FastifyReply;
  setSessionCookie(reply, sessionCookie(issuer), 'session-id', 3600);
  const [pair = '', ...attributes] = (headers['set-cookie'] ?? '').split(';').map((a) => a.trim());
  return { name: pair.split('=')[0] ?? '', attributes: attributes.map((a) => a.toLowerCase()) };
}

describe('session cookie attributes', () => {
  it('is Secure with the __Host- prefix for an https issuer', () => {
    const { name, attributes } = cookieFor('https://auth.example.com');
    assert.ok(name.startsWith('__Host-'));
    assert.ok(attributes.includes('secure'));
    assert.ok(attributes.includes('httponly'));
    assert.ok(attributes.includes('samesite=lax'));
    // __Host- requires Path=/ and no Domain.
    assert.ok(attributes.includes('path=/'));
    assert.ok(!attributes.some((a) => a.startsWith('domain=')));
  });

  it('is not Secure for an http issuer (a browser would drop it)', () => {
    for (const issuer of ['http://127.0.0.1:8080', 'http://localhost:3000']) {
      const { name, attributes } = cookieFor(issuer);
      assert.ok(!name.startsWith('__Host-'));
      assert.ok(!name.startsWith('__Secure-'));
      assert.ok(!attributes.includes('secure'));
      assert.ok(attributes.includes('httponly'));
      assert.ok(attributes.includes('samesite=lax'));
    }
  });
});

describe('review screen under a narrowing policy', () => {
  it('shows the scopes that will be granted, not only those asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-policies-'));
    writeFileSync(
      join(dir, 'narrow.cedar'),
      `@id("all-but-approve")
permit (principal, action, resource) unless { action == Tether::Action::"Approve" };
@id("approve-read-only")
@scopes("read")
permit (principal, action == Tether::Action::"Approve", resource);
`,
    );
    const narrow = await startServer({ policy: { path: dir } });
    try {
      const codes = await authorize(narrow, { client_id: 'tether-cli', scope: 'read write' });
      const browser = new FormBrowser(narrow.issuer);
      await browser.signIn();
      const review = await browser.post('/device', { user_code: codes.user_code });
      const granted = [...(/<ul class="scopes">([\s\S]*?)<\/ul>/.exec(review)?.[1] ?? '').matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]);
      assert.deepEqual(granted, ['read'], 'the review lists what policy will grant');
      assert.match(review, /not granted by your organisation's policy:\s*<code class="withheld">write<\/code>/);
      assert.ok((await browser.post('/device/decision', { decision: 'approve' })).includes('Device approved'));
      const token = await redeem(narrow, codes.device_code);
      assert.equal(token.body['scope'], 'read', 'and that is what was granted');
    } finally {
      await narrow.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
