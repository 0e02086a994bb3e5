/**
 * Sign-in through an upstream OpenID provider, over real HTTP: a provider the test scripts (fake-provider.ts)
 * signs the person in, Tether provisions them just in time and they approve a device. Then each attack or fault
 * of issue #14 point 5, one test each, shown to fail with a clear page and never a 500: a forged state, a replayed
 * callback, a wrong nonce, an ID token from another issuer or signed by a key not in the provider's JWKS, an
 * unverified email, a domain not allowed, and a provider that is down (discovery, then the token endpoint).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { FormBrowser } from '../support/browser-form.js';
import { authorize, redeem } from '../support/device-flow.js';
import { assertHumanPage } from '../support/page-checks.js';
import { freePort } from '../support/ports.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { FakeProvider, providerConfig } from './fake-provider.js';

const CAROL = {
  sub: 'carol-0001',
  preferred_username: 'carol',
  name: 'Carol Upstream',
  email: 'carol@corp.example',
  email_verified: true,
  groups: ['sre', 'oncall'],
  amr: ['pwd', 'hwk'],
  acr: 'phr',
};

let provider: FakeProvider;
let server: TestServer;
let dir: string;
let downPort: number;

before(async () => {
  provider = await FakeProvider.start();
  dir = mkdtempSync(join(tmpdir(), 'tether-sso-'));
  const secretFile = join(dir, 'corp-secret');
  writeFileSync(secretFile, `${provider.clientSecret}\n`, { mode: 0o600 });
  downPort = await freePort();
  server = await startServer({
    upstream_providers: [
      providerConfig(provider, secretFile),
      // Nothing listens there: discovery fails.
      { name: 'down', display_label: 'Down IdP', issuer: `http://127.0.0.1:${downPort}`, client_id: 'x', timeout: 2 },
    ],
  });
});

after(async () => {
  await server?.close();
  await provider?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  provider.script = { claims: { ...CAROL } };
});

/** The events of one type, newest last. */
async function events(type: string) {
  const all = await new SqlAuditLog(server.tether.db).query({ type: type as never });
  return all;
}

describe('sign-in through an upstream OpenID provider', () => {
  test('offers "Sign in with Corp SSO" beside the password form, and signs the person in with PKCE, state and nonce', async () => {
    const browser = new FormBrowser(server.issuer);
    const signInPage = await browser.get('/device');
    assert.match(signInPage, /Sign in with Corp SSO/);
    assert.match(signInPage, /action="\/device\/sign-in"/, 'local accounts exist, so the password form stays');
    const page = await browser.signInUpstream('corp');
    assert.equal(browser.lastStatus, 200, page.slice(0, 500));
    assert.match(page, /Signed in as <strong>Carol Upstream<\/strong>/);
    assert.match(page, /action="\/device"/, 'the code entry form follows');
    const asked = provider.lastAuthorize;
    assert.ok(asked);
    assert.equal(asked.get('response_type'), 'code');
    assert.equal(asked.get('code_challenge_method'), 'S256');
    assert.match(asked.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(asked.get('state') ?? '', /^[A-Za-z0-9_-]{40,}$/);
    assert.match(asked.get('nonce') ?? '', /^[A-Za-z0-9_-]{40,}$/);
    assert.equal(asked.get('redirect_uri'), `${server.issuer}/device/callback/corp`);
    assert.deepEqual(asked.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
  });

  test('provisions the person just in time: approving a device gives a token for corp:<sub> with the provider\'s groups', async () => {
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    await browser.post('/device', { user_code: codes.user_code });
    const approved = await browser.post('/device/decision', { decision: 'approve' });
    assert.match(approved, /Device approved/, approved.slice(0, 500));
    const reply = await redeem(server, codes.device_code);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const claims = decodeJwt(String(reply.body['access_token']));
    assert.equal(claims.sub, 'corp:carol-0001');
    assert.deepEqual(claims['groups'], ['sre', 'oncall']);
    const signedIn = (await events('user.signed_in')).filter((e) => e.userId === 'corp:carol-0001').at(-1);
    assert.equal(signedIn?.data['method'], 'upstream:corp');
    assert.deepEqual(signedIn?.data['amr'], ['pwd', 'hwk']);
    assert.equal(signedIn?.data['phishing_resistant'], true);
    const approval = (await events('device.approved')).at(-1);
    assert.equal(approval?.data['auth_method'], 'upstream:corp');
  });

  test('group changes at the provider reach the next sign-in and the next token', async () => {
    provider.script = { claims: { ...CAROL, groups: ['contractors'] } };
    const codes = await authorize(server);
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    await browser.post('/device', { user_code: codes.user_code });
    assert.match(await browser.post('/device/decision', { decision: 'approve' }), /Device approved/);
    const reply = await redeem(server, codes.device_code);
    assert.deepEqual(decodeJwt(String(reply.body['access_token']))['groups'], ['contractors']);
  });
});

describe('bad input from the browser or the provider gets a clear page, never a 500', () => {
  /** Starts a sign-in in `browser` and returns the callback URL the provider would send it to, unvisited. */
  async function callbackFor(browser: FormBrowser): Promise<string> {
    const page = await browser.get('/device');
    const link = /href="(\/device\/upstream\/corp[^"]*)"/.exec(page)?.[1] ?? '';
    // Tether's redirect to the provider, then the provider's redirect back, which is not followed.
    const start = await fetch(`${server.issuer}${link.replace(/&amp;/g, '&')}`, { headers: { cookie: browser.cookieHeader }, redirect: 'manual' });
    assert.equal(start.status, 303);
    const atProvider = await fetch(start.headers.get('location') ?? '', { redirect: 'manual' });
    assert.equal(atProvider.status, 302);
    return atProvider.headers.get('location') ?? '';
  }

  function assertRefusedPage(browser: FormBrowser, status: number, text: RegExp) {
    assert.equal(browser.lastStatus, status, browser.lastPage.slice(0, 600));
    assertHumanPage(browser.lastHeaders, browser.lastPage, `status ${status}`);
    assert.match(browser.lastPage, text);
    assert.doesNotMatch(browser.lastPage, /Signed in as/, 'nobody is signed in');
  }

  test('a forged state: a callback whose state no ceremony holds is refused', async () => {
    const browser = new FormBrowser(server.issuer);
    const real = new URL(await callbackFor(browser));
    real.searchParams.set('state', 'forged-state-forged-state-forged-state-forged');
    await browser.navigate(real.href);
    assertRefusedPage(browser, 400, /already used, has expired or was started in another browser/);
  });

  test('a state from another browser: the attacker\'s callback URL does not sign in the victim (login CSRF)', async () => {
    const attacker = new FormBrowser(server.issuer);
    const callback = await callbackFor(attacker);
    const victim = new FormBrowser(server.issuer);
    await victim.get('/device');
    await victim.navigate(callback);
    assertRefusedPage(victim, 400, /started in another browser/);
  });

  test('a replayed callback (state, code and nonce used once already) is refused', async () => {
    const browser = new FormBrowser(server.issuer);
    const callback = await callbackFor(browser);
    await browser.navigate(callback);
    assert.match(browser.lastPage, /Signed in as/);
    // Back to an anonymous session in the same browser, then the same callback again.
    await browser.post('/device/sign-out', {});
    await browser.navigate(callback);
    assertRefusedPage(browser, 400, /already used/);
  });

  test('a wrong nonce in the ID token (a token minted for another sign-in) is refused', async () => {
    provider.script = { claims: { ...CAROL }, idToken: { nonce: 'a-nonce-from-some-other-sign-in' } };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 400, /could not be verified/);
    const failed = (await events('user.sign_in_failed')).at(-1);
    assert.equal(failed?.data['reason'], 'rejected');
    assert.equal(failed?.data['method'], 'upstream:corp');
    // Refused for the nonce, not for anything else (the library names the claim comparison that failed).
    assert.equal(failed?.data['detail'], 'OAUTH_JWT_CLAIM_COMPARISON_FAILED');
  });

  test('an ID token from another issuer is refused', async () => {
    provider.script = { claims: { ...CAROL }, idToken: { iss: 'https://evil.example' } };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 400, /could not be verified/);
    assert.equal((await events('user.sign_in_failed')).at(-1)?.data['detail'], 'OAUTH_JWT_CLAIM_COMPARISON_FAILED');
  });

  test('an ID token signed by a key the provider does not publish is refused', async () => {
    provider.script = { claims: { ...CAROL }, foreignKey: true };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 400, /could not be verified/);
    const failed = (await events('user.sign_in_failed')).at(-1);
    assert.equal(failed?.data['reason'], 'rejected');
    assert.notEqual(failed?.data['detail'], 'invalid_client', 'refused for the signature, not the client');
  });

  test('an unverified email is refused', async () => {
    provider.script = { claims: { ...CAROL, email_verified: false } };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 403, /did not confirm your email address/);
  });

  test('an email outside the allowed domains is refused', async () => {
    provider.script = { claims: { ...CAROL, email: 'carol@gmail.example', sub: 'outsider' } };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 403, /not in a domain allowed/);
    const found = await server.tether.db.selectFrom('upstream_users').select('id').where('id', '=', 'corp:outsider').executeTakeFirst();
    assert.equal(found, undefined, 'nobody was provisioned');
  });

  test('the person cancels at the provider (error=access_denied): a page, not a sign-in', async () => {
    provider.script = { claims: { ...CAROL }, authorizeError: 'access_denied' };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 403, /Corp SSO did not sign you in/);
  });

  test('a provider that is down at discovery: 502 with the sign-in page and a way to try again', async () => {
    const browser = new FormBrowser(server.issuer);
    const page = await browser.get('/device');
    assert.match(page, /Sign in with Down IdP/);
    await browser.navigate(`${server.issuer}/device/upstream/down`);
    assertRefusedPage(browser, 502, /Down IdP cannot be reached right now/);
    assert.match(browser.lastPage, /action="\/device\/sign-in"/, 'the password form is still there');
  });

  test('a provider whose token endpoint is down after the redirect: 502, not a 500', async () => {
    provider.script = { claims: { ...CAROL }, tokenDown: true };
    const browser = new FormBrowser(server.issuer);
    await browser.signInUpstream('corp');
    assertRefusedPage(browser, 502, /Corp SSO cannot be reached right now/);
  });

  test('an unknown provider name is a 404 page', async () => {
    const browser = new FormBrowser(server.issuer);
    await browser.navigate(`${server.issuer}/device/upstream/nope`);
    assert.equal(browser.lastStatus, 404);
    assertHumanPage(browser.lastHeaders, browser.lastPage, 'unknown provider');
    await browser.navigate(`${server.issuer}/device/callback/nope?state=x&code=y`);
    assert.equal(browser.lastStatus, 404);
  });
});

describe('a tenant with only upstream sign-in', () => {
  test('shows the provider buttons and no password form', async () => {
    const only = await startServer({ users: [], upstream_providers: [{ ...providerConfig(provider, join(dir, 'corp-secret')) }] });
    try {
      const browser = new FormBrowser(only.issuer);
      const page = await browser.get('/device');
      assert.match(page, /Sign in with Corp SSO/);
      assert.doesNotMatch(page, /action="\/device\/sign-in"/);
      assert.doesNotMatch(page, /type="password"/);
      assert.match(await browser.signInUpstream('corp'), /Signed in as <strong>Carol Upstream<\/strong>/);
    } finally {
      await only.close();
    }
  });
});

describe('configuration', () => {
  test('a client secret from a missing environment variable stops the start with a clear message', async () => {
    await assert.rejects(
      startServer({ upstream_providers: [{ name: 'corp', issuer: provider.issuer, client_id: 'tether', client_secret_env: 'TETHER_TEST_NO_SUCH_SECRET' }] }),
      /TETHER_TEST_NO_SUCH_SECRET \(client_secret_env\) is not set/,
    );
  });

  test('two providers with one name, or a secret from both a variable and a file, are refused by name', async () => {
    const one = { name: 'corp', issuer: provider.issuer, client_id: 'tether' };
    await assert.rejects(startServer({ upstream_providers: [one, one] }), /duplicate provider name corp/);
    await assert.rejects(
      startServer({ upstream_providers: [{ ...one, client_secret_env: 'A', client_secret_file: '/x' }] }),
      /upstream_providers\.0\.client_secret_env: give client_secret_env or client_secret_file, not both/,
    );
    await assert.rejects(startServer({ upstream_providers: [{ ...one, name: 'Corp SSO' }] }), /upstream_providers\.0\.name/);
  });

  test('an inline client secret is not accepted, and plain http is refused for a provider off this machine', async () => {
    await assert.rejects(startServer({ upstream_providers: [{ name: 'corp', issuer: provider.issuer, client_id: 'tether', client_secret: 'inline' }] }), /client_secret/);
    await assert.rejects(
      startServer({ upstream_providers: [{ name: 'corp', issuer: 'http://idp.example.com', client_id: 'tether' }] }),
      /issuer must be https/,
    );
  });
});

describe('the grant keeps how its approver signed in, for policy at issuance', () => {
  test('a policy on Issue sees the approval\'s sign-in: phishing-resistant passes, a password does not', async () => {
    const policies = join(dir, 'policies');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(policies, { recursive: true });
    writeFileSync(
      join(policies, 'issue.cedar'),
      '@id("baseline")\npermit (principal, action, resource);\n' +
        '@id("issue-needs-phishing-resistant")\n@reason("Tokens only for a phishing-resistant sign-in.")\n' +
        'forbid (principal, action == Tether::Action::"Issue", resource)\nwhen { !context.phishingResistant || context.authMethod == "pwd" };\n',
    );
    const strict = await startServer({ policy: { path: policies }, upstream_providers: [providerConfig(provider, join(dir, 'corp-secret'))] });
    try {
      const viaProvider = await authorize(strict);
      const browser = new FormBrowser(strict.issuer);
      await browser.signInUpstream('corp');
      await browser.post('/device', { user_code: viaProvider.user_code });
      assert.match(await browser.post('/device/decision', { decision: 'approve' }), /Device approved/);
      assert.equal((await redeem(strict, viaProvider.device_code)).status, 200);

      const viaPassword = await authorize(strict);
      const local = new FormBrowser(strict.issuer);
      assert.match(await local.decide(viaPassword.user_code, 'approve'), /Device approved/);
      const refused = await redeem(strict, viaPassword.device_code);
      assert.equal(refused.status, 400);
      assert.equal(refused.body['error'], 'access_denied');
    } finally {
      await strict.close();
    }
  });
});
