// A device abandons its own request (Ctrl-C in tether login): POST /device_authorization/abandon, proven with the
// key the device code is bound to. Each attack runs against real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOAuthError, authorize, redeem } from '../support/device-flow.js';
import { FormBrowser } from '../support/browser-form.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';

describe('abandoning a device code', () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startServer();
    url = `${server.issuer}/device_authorization/abandon`;
  });
  after(() => server.close());

  async function boundCodes(key: DpopKey) {
    return authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });
  }
  async function abandon(deviceCode: string, key: DpopKey | null, clientId = 'tether-cli') {
    return postForm(url, { client_id: clientId, device_code: deviceCode }, key ? { DPoP: await key.proof('POST', url) } : {});
  }
  /** A person who entered the code and signed in: the review page with Approve and Deny is open. */
  async function reviewing(userCode: string) {
    const browser = new FormBrowser(server.issuer);
    await browser.get('/device');
    let page = await browser.post('/device', { user_code: userCode });
    if (page.includes('action="/device/sign-in"')) page = await browser.post('/device/sign-in', { username: 'alice', password: 'correct horse battery staple' });
    assert.match(page, /action="\/device\/decision"/, 'the review page is open');
    return browser;
  }

  it('is advertised in the metadata', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(metadata['tether_device_abandon_endpoint'], url);
  });

  it('an abandoned code cannot be approved: the open review page says it was cancelled, and no token is issued', async () => {
    const key = await dpopKey();
    const codes = await boundCodes(key);
    const browser = await reviewing(codes.user_code);
    const reply = await abandon(codes.device_code, key);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body['status'], 'abandoned');
    assert.equal(reply.headers.get('cache-control'), 'no-store');

    const page = await browser.post('/device/decision', { decision: 'approve' });
    assert.equal(browser.lastStatus, 410);
    assert.match(page, /This request was cancelled/);
    assert.doesNotMatch(page, /Device approved/);
    assertOAuthError(await redeem(server, codes.device_code, undefined, {}, key), 'invalid_grant');

    // Typing the code afresh says the same, instead of "not valid".
    const again = new FormBrowser(server.issuer);
    await again.signIn();
    assert.match(await again.post('/device', { user_code: codes.user_code }), /This request was cancelled/);

    const events = await new SqlAuditLog(server.tether.db).query({ type: 'device_code.abandoned' });
    assert.ok(events.some((e) => e.data['previous_status'] === 'pending'), 'the abandonment is audited');
  });

  it('another key cannot abandon a bound code, nor can a request without a proof; the code stays approvable', async () => {
    const key = await dpopKey();
    const codes = await boundCodes(key);
    assertOAuthError(await abandon(codes.device_code, await dpopKey()), 'invalid_grant');
    assertOAuthError(await abandon(codes.device_code, null), 'invalid_grant');
    assertOAuthError(await abandon(codes.device_code, key, 'ci-bot'), 'invalid_client', 401);
    const browser = await reviewing(codes.user_code);
    assert.match(await browser.post('/device/decision', { decision: 'approve' }), /Device approved/);
    const tokens = await redeem(server, codes.device_code, undefined, {}, key);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  it('approved a moment before the device gave up: the grant is revoked and the code redeems nothing', async () => {
    const key = await dpopKey();
    const codes = await boundCodes(key);
    const browser = await reviewing(codes.user_code);
    assert.match(await browser.post('/device/decision', { decision: 'approve' }), /Device approved/);
    const reply = await abandon(codes.device_code, key);
    assert.equal(reply.body['status'], 'abandoned');
    assertOAuthError(await redeem(server, codes.device_code, undefined, {}, key), 'invalid_grant');
    const events = await new SqlAuditLog(server.tether.db).query({ type: 'device_code.abandoned' });
    const event = events.find((e) => e.data['previous_status'] === 'approved');
    assert.ok(event?.grantId, 'the event names the grant');
  });

  it('an unknown or redeemed code is refused; a second abandon is harmless', async () => {
    const key = await dpopKey();
    assertOAuthError(await abandon('not-a-device-code', key), 'invalid_grant');
    const codes = await boundCodes(key);
    assert.equal((await abandon(codes.device_code, key)).body['status'], 'abandoned');
    assert.equal((await abandon(codes.device_code, key)).body['status'], 'already_ended');
    assertOAuthError(await postForm(url, { client_id: 'tether-cli' }), 'invalid_request');
  });
});
