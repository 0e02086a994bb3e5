/**
 * The default policy pack, end to end through the HTTP endpoints: for each policy an allowed and a refused case,
 * each refusal seen as its RFC error at the endpoint (and as a readable page at the approval step).
 *
 * One server with a fake clock (sign-in age, grant age), trusting X-Forwarded-For so that the device and the
 * approving browser can be put on different networks, and a high-tier API (`https://prod.example`) for the
 * `ops-cli` client beside the default low-tier test API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { adminCommand } from '../../src/cli/commands/admin.js';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../../src/oauth/grant-types.js';
import { FakeClock } from '../../src/shared/clock.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, type DeviceCodes, type Reply } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { ALICE_WITH_SECURITY_KEY, FakeProvider, providerConfig } from '../sso/fake-provider.js';

const PROD = 'https://prod.example';
const DEVICE_IP = '203.0.113.20';
const SAME_NETWORK_IP = '203.0.113.77';
const OTHER_NETWORK_IP = '198.51.100.9';

const REASONS = {
  automation: /The device flow is for a person at a device; automation must use its own workload identity/,
  managed: /This API needs a managed device: enroll this device's key and have an administrator approve it\./,
  recentSignIn: /This API needs a recent sign-in: sign in again, then approve\./,
  sameNetwork: /Approve this request from the same network as the device that asked for it/,
  phishingResistant: /This API needs a phishing-resistant sign-in: sign in with a passkey or a security key, then approve\./,
};

/** Alice at the company's provider, signing in with a security key (RFC 8176 `hwk`): phishing-resistant. */
const ALICE_WITH_KEY = ALICE_WITH_SECURITY_KEY;

describe('the default policy pack, through the HTTP endpoints', () => {
  let server: TestServer;
  let clock: FakeClock;
  let provider: FakeProvider;
  let secretDir: string;

  before(async () => {
    clock = new FakeClock(Math.floor(Date.now() / 1000));
    // High-tier approvals need a phishing-resistant sign-in: the browsers here sign in through this provider.
    provider = await FakeProvider.start();
    provider.script = { claims: ALICE_WITH_KEY };
    secretDir = mkdtempSync(join(tmpdir(), 'tether-pack-'));
    writeFileSync(join(secretDir, 'secret'), provider.clientSecret);
    server = await startServer(
      {
        upstream_providers: [providerConfig(provider, join(secretDir, 'secret'))],
        trust_proxy: true,
        // Longer than the high-tier policy's hour, so that the hour is what ends a high-tier grant.
        tokens: { access_token_ttl: '10m', grant_idle_ttl: '4h', grant_max_ttl: '12h' },
        extra_resources: [{ uri: PROD, name: 'Production', scopes: ['read', 'write'], tier: 'high' }],
        extra_clients: [
          {
            id: 'ops-cli',
            name: 'Ops CLI',
            grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
            scopes: ['read', 'write'],
            resources: [PROD],
          },
        ],
      },
      clock,
    );
  });
  after(async () => {
    await server.close();
    await provider.close();
    rmSync(secretDir, { recursive: true, force: true });
  });

  /** A device key whose proofs are dated by the server's (fake) clock. */
  const newKey = () => dpopKey('ES256', () => clock.now());

  /** The device asks for codes with a proof by `key`, from `ip`. */
  async function ask(key: DpopKey, opts: { client?: string; environment?: string; ip?: string } = {}): Promise<Reply> {
    const form: Record<string, string> = { client_id: opts.client ?? 'tether-cli' };
    if (opts.environment) form['tether_environment'] = opts.environment;
    return postForm(`${server.issuer}/device_authorization`, form, {
      DPoP: await key.proof('POST', `${server.issuer}/device_authorization`),
      'x-forwarded-for': opts.ip ?? DEVICE_IP,
    });
  }

  async function codesFor(key: DpopKey, opts: { client?: string; environment?: string; ip?: string } = {}): Promise<DeviceCodes> {
    const reply = await ask(key, opts);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body as unknown as DeviceCodes;
  }

  /** A browser on `ip` (by default the device's network). */
  const browserAt = (ip = SAME_NETWORK_IP) => new FormBrowser(server.issuer, { 'x-forwarded-for': ip });

  /** Signs in through the provider (unless this browser already is), enters the code and presses Approve. */
  async function approve(userCode: string, browser = browserAt()): Promise<string> {
    await browser.signInUpstream('corp');
    return browser.decide(userCode, 'approve');
  }

  async function poll(key: DpopKey, deviceCode: string, client = 'tether-cli'): Promise<Reply> {
    const url = `${server.issuer}/token`;
    return postForm(url, { grant_type: DEVICE_GRANT, client_id: client, device_code: deviceCode }, {
      DPoP: await key.proof('POST', url),
      'x-forwarded-for': DEVICE_IP,
    });
  }

  async function refreshWith(key: DpopKey, refreshToken: string, client = 'tether-cli'): Promise<Reply> {
    const url = `${server.issuer}/token`;
    return postForm(url, { grant_type: 'refresh_token', client_id: client, refresh_token: refreshToken }, {
      DPoP: await key.proof('POST', url),
      'x-forwarded-for': DEVICE_IP,
    });
  }

  /** A whole login: ask, approve from the device's network, redeem. */
  async function login(key: DpopKey, client = 'tether-cli'): Promise<Reply> {
    const codes = await codesFor(key, { client });
    const page = await approve(codes.user_code);
    assert.match(page, /Device approved/, page.slice(0, 600));
    const reply = await poll(key, codes.device_code, client);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply;
  }

  /** The device enrolls its key (a DPoP proof by it). */
  async function enroll(key: DpopKey, form: Record<string, string> = {}): Promise<Reply> {
    return postForm(`${server.issuer}/devices/enroll`, form, { DPoP: await key.proof('POST', `${server.issuer}/devices/enroll`) });
  }

  async function adminApprove(jkt: string, cls?: string) {
    const response = await fetch(`${server.issuer}/admin/devices/${jkt}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(cls ? { class: cls } : {}),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as { device: Record<string, unknown> };
  }

  /** A key enrolled and approved by an administrator as `cls`. */
  async function trusted(cls = 'managed'): Promise<DpopKey> {
    const key = await newKey();
    assert.equal((await enroll(key, { name: `test-${cls}` })).status, 202);
    await adminApprove(key.jkt, cls);
    return key;
  }

  async function policyDenials(step: string) {
    const events = await new SqlAuditLog(server.tether.db).query({ type: 'policy.denied' });
    return events.filter((e) => e.data['step'] === step);
  }

  /** The page a refused approval shows: why, in the policy's words, and that the request is over. */
  function assertRefusedPage(browser: FormBrowser, page: string, reason: RegExp) {
    assert.equal(browser.lastStatus, 403);
    assert.match(page, /<h1[^>]*>Refused by policy<\/h1>/);
    assert.match(page.replace(/&#39;/g, "'"), reason);
    assert.match(page, /The request was denied/);
  }

  describe('no-device-flow-for-automation', () => {
    test('refused: a device that declares itself automation gets no code (unauthorized_client)', async () => {
      const before = (await policyDenials('device_authorization')).length;
      const reply = await ask(await newKey(), { environment: 'automation' });
      assertOAuthError(reply, 'unauthorized_client');
      assert.match(String(reply.body['error_description']), REASONS.automation);
      const denials = await policyDenials('device_authorization');
      assert.equal(denials.length, before + 1, 'the refusal is in the audit log');
      assert.deepEqual(denials.at(-1)?.data['policies'], ['no-device-flow-for-automation']);
      assert.equal(denials.at(-1)?.data['environment'], 'automation');
    });

    test('a malformed declaration is invalid_request; an address policy cannot read fails closed, not with a 500', async () => {
      assertOAuthError(await ask(await newKey(), { environment: 'ci runner; drop' }), 'invalid_request');
      assertOAuthError(await ask(await newKey(), { ip: 'not-an-address' }), 'unauthorized_client');
    });

    test('allowed: an unmanaged device gets a code and tokens stamped unmanaged', async () => {
      const key = await newKey();
      const codes = await codesFor(key, { environment: 'unmanaged' });
      assert.match(await approve(codes.user_code), /Device approved/);
      const reply = await poll(key, codes.device_code);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const claims = decodeJwt(String(reply.body['access_token']));
      assert.equal(claims['device_class'], 'unmanaged');
      assert.equal(claims['device_enrolled'], false);
      assert.equal(reply.body['expires_in'], 600, 'a low-tier API keeps the configured lifetime');
    });

    test('refused: a key an administrator classed as automation, at every later step', async () => {
      // Pending polls never ask policy: reclassifying the key while the code waits changes nothing for them...
      const key = await newKey();
      const codes = await codesFor(key);
      assert.equal((await enroll(key, { class: 'automation', name: 'ci-runner' })).status, 202);
      await adminApprove(key.jkt);
      const denials = (await policyDenials('issuance')).length;
      assertOAuthError(await poll(key, codes.device_code), 'authorization_pending');
      assert.equal((await policyDenials('issuance')).length, denials);
      // ...approval does: the person reads why, and the device is told access_denied.
      const browser = browserAt();
      assertRefusedPage(browser, await approve(codes.user_code, browser), REASONS.automation);
      assertOAuthError(await poll(key, codes.device_code), 'access_denied');
      assert.ok((await policyDenials('approval')).some((e) => e.jkt === key.jkt));
      // A new request from that key is refused at once, without declaring anything.
      assertOAuthError(await ask(key), 'unauthorized_client');
    });

    test('refused at issuance and refresh when the key is reclassified after approval or login', async () => {
      const late = await newKey();
      const codes = await codesFor(late);
      assert.match(await approve(codes.user_code), /Device approved/);
      const loggedIn = await newKey();
      const session = await login(loggedIn);

      for (const key of [late, loggedIn]) {
        await enroll(key, { class: 'automation' });
        await adminApprove(key.jkt);
      }
      const issued = await poll(late, codes.device_code);
      assertOAuthError(issued, 'access_denied');
      assert.match(String(issued.body['error_description']), REASONS.automation);
      const refreshed = await refreshWith(loggedIn, String(session.body['refresh_token']));
      assertOAuthError(refreshed, 'invalid_grant');
      assert.match(String(refreshed.body['error_description']), REASONS.automation);
      assert.ok((await policyDenials('issuance')).some((e) => e.jkt === late.jkt));
      assert.ok((await policyDenials('refresh')).some((e) => e.jkt === loggedIn.jkt));
    });
  });

  describe('high-tier-needs-managed-device', () => {
    test('refused: an unmanaged or merely enrolled device gets no code for a high-tier API', async () => {
      const key = await newKey();
      const refused = await ask(key, { client: 'ops-cli' });
      assertOAuthError(refused, 'unauthorized_client');
      assert.match(String(refused.body['error_description']), REASONS.managed);
      // Enrolled but not yet approved is still unmanaged; a device's own claim to be managed counts for nothing.
      const enrolled = await enroll(key, { name: 'alice-laptop', class: 'managed' });
      assert.equal(enrolled.status, 202);
      assert.equal(enrolled.body['status'], 'pending');
      assertOAuthError(await ask(key, { client: 'ops-cli', environment: 'managed' }), 'unauthorized_client');
      // A jump host is not a managed device either.
      assertOAuthError(await ask(await trusted('jump_host'), { client: 'ops-cli' }), 'unauthorized_client');
    });

    test('allowed after `tether admin devices approve`, with the class stamped into the token', async () => {
      const key = await newKey();
      assertOAuthError(await ask(key, { client: 'ops-cli' }), 'unauthorized_client');
      assert.equal((await enroll(key, { name: 'alice-laptop' })).status, 202);

      const out: string[] = [];
      const err: string[] = [];
      const sink = (into: string[]) => new Writable({ write: (c: Buffer, _e, done) => (into.push(c.toString()), done()) });
      const io = { stdout: sink(out), stderr: sink(err), stdin: process.stdin, env: { TETHER_ADMIN_KEY: ADMIN_KEY } };
      assert.equal(await adminCommand(['devices', 'list', '--issuer', server.issuer], io), 0, err.join(''));
      assert.match(out.join(''), new RegExp(`${key.jkt}\\s+pending\\s+asks managed\\s+alice-laptop`));
      assert.equal(await adminCommand(['devices', 'approve', '--class', 'managed', '--issuer', server.issuer, '--', key.jkt], io), 0, err.join(''));
      assert.match(out.join(''), /Approved .* \(alice-laptop\) as managed\./);
      assert.equal(await adminCommand(['devices', 'approve', '--issuer', server.issuer], io), 2, 'a key is required');

      const reply = await login(key, 'ops-cli');
      const claims = decodeJwt(String(reply.body['access_token']));
      assert.equal(claims['device_class'], 'managed');
      assert.equal(claims['device_enrolled'], true);
      assert.equal(claims['aud'], PROD);

      // Taking the trust away refuses the next refresh.
      const response = await fetch(`${server.issuer}/admin/devices/${key.jkt}/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(response.status, 200);
      const refreshed = await refreshWith(key, String(reply.body['refresh_token']), 'ops-cli');
      assertOAuthError(refreshed, 'invalid_grant');
      assert.match(String(refreshed.body['error_description']), REASONS.managed);
    });

    test('the admin API refuses unknown keys and bad input', async () => {
      const unknown = await newKey();
      const response = await fetch(`${server.issuer}/admin/devices/${unknown.jkt}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(response.status, 404);
      const bad = await fetch(`${server.issuer}/admin/devices/not-a-thumbprint/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: '{"class":"root"}',
      });
      assert.equal(bad.status, 400);
      const noKey = await fetch(`${server.issuer}/admin/devices`);
      assert.equal(noKey.status, 401);
      assertOAuthError(await postForm(`${server.issuer}/devices/enroll`, { name: 'x' }), 'invalid_dpop_proof');
      assertOAuthError(await enroll(unknown, { class: 'root' }), 'invalid_request');
    });
  });

  describe('high-tier-needs-recent-sign-in', () => {
    test('refused: a sign-in older than 15 minutes cannot approve; the page says why', async () => {
      const key = await trusted();
      // The browser signs in now (on an unrelated request)...
      const browser = browserAt();
      const first = await codesFor(await newKey());
      assert.match(await approve(first.user_code, browser), /Device approved/);
      // ...and approves a high-tier request 16 minutes later, without signing in again.
      clock.advance(16 * 60);
      const codes = await codesFor(key, { client: 'ops-cli' });
      const page = await approve(codes.user_code, browser);
      assertRefusedPage(browser, page, REASONS.recentSignIn);
      const reply = await poll(key, codes.device_code, 'ops-cli');
      assertOAuthError(reply, 'access_denied');
      const denial = (await policyDenials('approval')).at(-1);
      assert.deepEqual(denial?.data['policies'], ['high-tier-needs-recent-sign-in']);
    });

    test('refused: a fresh sign-in here on a provider session that is hours old (the provider\'s auth_time counts)', async () => {
      const key = await trusted();
      provider.script = { claims: { ...ALICE_WITH_KEY, auth_time: clock.now() - 2 * 3600 } };
      try {
        const codes = await codesFor(key, { client: 'ops-cli' });
        const browser = browserAt();
        assertRefusedPage(browser, await approve(codes.user_code, browser), REASONS.recentSignIn);
        assert.deepEqual((await policyDenials('approval')).at(-1)?.data['policies'], ['high-tier-needs-recent-sign-in']);
      } finally {
        provider.script = { claims: ALICE_WITH_KEY };
      }
    });

    test('allowed: a sign-in from the last 15 minutes', async () => {
      const key = await trusted();
      const browser = browserAt();
      const first = await codesFor(await newKey());
      assert.match(await approve(first.user_code, browser), /Device approved/);
      clock.advance(14 * 60);
      const codes = await codesFor(key, { client: 'ops-cli' });
      assert.match(await approve(codes.user_code, browser), /Device approved/);
      assert.equal((await poll(key, codes.device_code, 'ops-cli')).status, 200);
    });
  });

  describe('high-tier-needs-phishing-resistant-sign-in', () => {
    test('refused: a password, or a provider sign-in with a one-time code, cannot approve a high-tier request', async () => {
      const key = await trusted();
      const codes = await codesFor(key, { client: 'ops-cli' });
      const browser = browserAt();
      // Password sign-in (the local account alice), then Approve.
      const page = await browser.decide(codes.user_code, 'approve');
      assertRefusedPage(browser, page, REASONS.phishingResistant);
      assertOAuthError(await poll(key, codes.device_code, 'ops-cli'), 'access_denied');
      assert.deepEqual((await policyDenials('approval')).at(-1)?.data['policies'], ['high-tier-needs-phishing-resistant-sign-in']);

      provider.script = { claims: { ...ALICE_WITH_KEY, amr: ['pwd', 'otp'] } };
      try {
        const again = await codesFor(key, { client: 'ops-cli' });
        const otpBrowser = browserAt();
        const refused = await approve(again.user_code, otpBrowser);
        assertRefusedPage(otpBrowser, refused, REASONS.phishingResistant);
      } finally {
        provider.script = { claims: ALICE_WITH_KEY };
      }
    });

    test('allowed: a provider sign-in with a security key; a low-tier API takes a password', async () => {
      const key = await trusted();
      const codes = await codesFor(key, { client: 'ops-cli' });
      assert.match(await approve(codes.user_code), /Device approved/);
      assert.equal((await poll(key, codes.device_code, 'ops-cli')).status, 200);
      const low = await codesFor(await newKey());
      assert.match(await browserAt().decide(low.user_code, 'approve'), /Device approved/);
    });
  });

  describe('high-tier-same-network-approval', () => {
    test('refused: approval from another network; the page says why and the device gets access_denied', async () => {
      const key = await trusted();
      const codes = await codesFor(key, { client: 'ops-cli', ip: DEVICE_IP });
      const browser = browserAt(OTHER_NETWORK_IP);
      const page = await approve(codes.user_code, browser);
      assertRefusedPage(browser, page, REASONS.sameNetwork);
      assertOAuthError(await poll(key, codes.device_code, 'ops-cli'), 'access_denied');
      const denial = (await policyDenials('approval')).at(-1);
      assert.deepEqual(denial?.data['policies'], ['high-tier-same-network-approval']);
      assert.equal(denial?.data['approver_ip'], OTHER_NETWORK_IP);
      // The request is over: the same code cannot be approved again from the right network.
      assert.doesNotMatch(await approve(codes.user_code, browserAt(SAME_NETWORK_IP)), /Device approved/);
    });

    test('allowed: approval from the device network; a low-tier API may be approved from anywhere', async () => {
      const key = await trusted();
      const codes = await codesFor(key, { client: 'ops-cli', ip: DEVICE_IP });
      assert.match(await approve(codes.user_code, browserAt(SAME_NETWORK_IP)), /Device approved/);
      assert.equal((await poll(key, codes.device_code, 'ops-cli')).status, 200);

      const low = await newKey();
      const lowCodes = await codesFor(low);
      assert.match(await approve(lowCodes.user_code, browserAt(OTHER_NETWORK_IP)), /Device approved/);
    });
  });

  describe('high-tier-short-tokens', () => {
    test('allowed: high-tier access tokens live at most 5 minutes, at issuance and at refresh', async () => {
      const key = await trusted();
      const reply = await login(key, 'ops-cli');
      assert.ok(Number(reply.body['expires_in']) <= 300, `expires_in ${String(reply.body['expires_in'])}`);
      const claims = decodeJwt(String(reply.body['access_token']));
      assert.ok(Number(claims.exp) - Number(claims.iat) <= 300);
      clock.advance(30 * 60);
      const refreshed = await refreshWith(key, String(reply.body['refresh_token']), 'ops-cli');
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.ok(Number(refreshed.body['expires_in']) <= 300);
    });

    test('refused: refreshing a high-tier grant more than an hour after approval (invalid_grant); low tier still refreshes', async () => {
      const key = await trusted();
      const high = await login(key, 'ops-cli');
      const lowKey = await newKey();
      const low = await login(lowKey);
      clock.advance(61 * 60);
      assertOAuthError(await refreshWith(key, String(high.body['refresh_token']), 'ops-cli'), 'invalid_grant');
      const lowRefreshed = await refreshWith(lowKey, String(low.body['refresh_token']));
      assert.equal(lowRefreshed.status, 200, JSON.stringify(lowRefreshed.body));
      assert.equal(lowRefreshed.body['expires_in'], 600);
    });
  });
});
