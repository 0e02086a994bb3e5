// Token endpoint errors of the device_code grant, as RFC 6749 §5.2 and RFC 8628 §3.5 define them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { FormBrowser } from '../support/browser-form.js';
import { assertOAuthError, authorize, basic, CI_BOT_SECRET, decide, defaultDpopKey, redeem } from '../support/device-flow.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

describe('token endpoint: device_code grant errors', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('answers authorization_pending while nobody has decided', async () => {
    const codes = await authorize(server);
    assertOAuthError(await redeem(server, codes.device_code), 'authorization_pending');
  });

  it('answers access_denied after the person pressed Deny', async () => {
    const codes = await authorize(server);
    await decide(server, codes.user_code, 'deny');
    assertOAuthError(await redeem(server, codes.device_code), 'access_denied');
  });

  it('answers invalid_grant for a device code it never issued', async () => {
    assertOAuthError(await redeem(server, randomBytes(32).toString('base64url')), 'invalid_grant');
  });

  it('answers invalid_grant when another client presents the code', async () => {
    const cliCodes = await authorize(server);
    await decide(server, cliCodes.user_code);
    const asBot = await redeem(server, cliCodes.device_code, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });
    assertOAuthError(asBot, 'invalid_grant');

    const botCodes = await authorize(server, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });
    await decide(server, botCodes.user_code);
    assertOAuthError(await redeem(server, botCodes.device_code, { client_id: 'tether-cli' }), 'invalid_grant');
    // The failed attempts by the wrong client did not use the codes up.
    assert.equal((await redeem(server, cliCodes.device_code)).status, 200);
    const bot = await redeem(server, botCodes.device_code, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });
    assert.equal(bot.status, 200);
  });

  it('answers invalid_grant for a code that was already redeemed', async () => {
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    const first = await redeem(server, codes.device_code);
    assert.equal(first.status, 200);
    assert.equal(typeof first.body['access_token'], 'string');
    assertOAuthError(await redeem(server, codes.device_code), 'invalid_grant');
  });

  it('answers invalid_request without device_code', async () => {
    assertOAuthError(await redeem(server, undefined), 'invalid_request');
  });

  it('answers invalid_request without grant_type', async () => {
    const codes = await authorize(server);
    const reply = await postForm(`${server.issuer}/token`, { client_id: 'tether-cli', device_code: codes.device_code });
    assertOAuthError(reply, 'invalid_request');
  });

  it('answers invalid_request when a parameter is repeated', async () => {
    const codes = await authorize(server);
    const other = await authorize(server);
    assertOAuthError(
      await redeem(server, undefined, { client_id: 'tether-cli', device_code: [codes.device_code, other.device_code] }),
      'invalid_request',
    );
    assertOAuthError(
      await postForm(`${server.issuer}/token`, {
        grant_type: [DEVICE_GRANT, DEVICE_GRANT],
        client_id: 'tether-cli',
        device_code: codes.device_code,
      }),
      'invalid_request',
    );
    assertOAuthError(
      await redeem(server, codes.device_code, { client_id: ['tether-cli', 'tether-cli'] }),
      'invalid_request',
    );
  });

  it('answers unsupported_grant_type for grants it does not offer', async () => {
    for (const grantType of ['password', 'client_credentials', 'authorization_code', 'urn:example:made-up']) {
      const reply = await postForm(`${server.issuer}/token`, {
        grant_type: grantType,
        client_id: 'tether-cli',
        username: 'alice',
        password: 'x',
      });
      assertOAuthError(reply, 'unsupported_grant_type');
    }
  });
});

describe('token endpoint: polling pace (RFC 8628 §3.5)', () => {
  // The pacer reads the server's injected clock, so the windows are crossed by moving it, not by waiting.
  let server: TestServer;
  let clock: FakeClock;
  before(async () => {
    clock = new FakeClock(Math.floor(Date.now() / 1000));
    server = await startServer({ device_flow: { interval: 2 } }, clock);
  });
  after(() => server.close());

  /** A poll whose DPoP proof is dated by the server's (fake) clock. */
  async function poll(deviceCode: string) {
    const key = await defaultDpopKey();
    const proof = await key.proof('POST', `${server.issuer}/token`, { iat: clock.now() });
    return redeem(server, deviceCode, { client_id: 'tether-cli' }, { DPoP: proof });
  }

  it('answers slow_down to a poll that comes too quickly, and adds 5 seconds to the interval', async () => {
    const codes = await authorize(server);
    assert.equal(codes.interval, 2);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
    assertOAuthError(await poll(codes.device_code), 'slow_down');
    // The original interval has passed, but the interval is now 2 + 5 seconds: still too soon.
    clock.advance(2.3);
    assertOAuthError(await poll(codes.device_code), 'slow_down');
    // Waiting out the lengthened interval (now 12 s after the last poll's slow_down) is fine again.
    clock.advance(12);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
  });

  it('does not punish a client that polls on its interval, even a little early from network jitter', async () => {
    const codes = await authorize(server);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
    clock.advance(2);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
    clock.advance(1.8);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
  });
});

describe('token endpoint: expiry', () => {
  let server: TestServer;
  let clock: FakeClock;
  before(async () => {
    clock = new FakeClock(Math.floor(Date.now() / 1000));
    server = await startServer({}, clock);
  });
  after(() => server.close());

  /** A poll whose DPoP proof is dated by the server's (fake) clock. */
  async function poll(deviceCode: string) {
    const key = await defaultDpopKey();
    const proof = await key.proof('POST', `${server.issuer}/token`, { iat: clock.now() });
    return redeem(server, deviceCode, { client_id: 'tether-cli' }, { DPoP: proof });
  }

  it('answers expired_token once the device code has expired', async () => {
    const codes = await authorize(server);
    assert.equal(codes.expires_in, 300);
    clock.advance(301);
    assertOAuthError(await poll(codes.device_code), 'expired_token');
  });

  it('does not redeem an approved code after it expired', async () => {
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    clock.advance(codes.expires_in + 1);
    assertOAuthError(await poll(codes.device_code), 'expired_token');
  });

  it('refuses to approve a code that has expired', async () => {
    const codes = await authorize(server);
    clock.advance(codes.expires_in);
    const page = await new FormBrowser(server.issuer).decide(codes.user_code, 'approve');
    assert.ok(!page.includes('Device approved'));
    assertOAuthError(await poll(codes.device_code), 'expired_token');
  });
});
