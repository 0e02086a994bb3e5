// Client authentication at the token and device authorization endpoints (RFC 6749 §2.3, §5.2).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOAuthError, authorize, basic, CI_BOT_SECRET, redeem, type Reply } from '../support/device-flow.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

/** invalid_client with Basic: 401 and a WWW-Authenticate challenge for the Basic scheme (RFC 6749 §5.2). */
function assertBasicChallenge(reply: Reply): void {
  assertOAuthError(reply, 'invalid_client', 401);
  assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic\b/i);
}

/** invalid_client without an Authorization header: RFC 6749 §5.2 allows 400 or 401. */
function assertInvalidClient(reply: Reply): void {
  assert.ok([400, 401].includes(reply.status), `status ${reply.status}`);
  assertOAuthError(reply, 'invalid_client', reply.status);
}

describe('client authentication', () => {
  let server: TestServer;
  let botCode: string;
  before(async () => {
    server = await startServer();
    botCode = (await authorize(server, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) })).device_code;
  });
  after(() => server.close());

  it('accepts ci-bot with its secret in Basic', async () => {
    const reply = await redeem(server, botCode, {}, { authorization: basic('ci-bot', CI_BOT_SECRET) });
    assertOAuthError(reply, 'authorization_pending');
  });

  it('answers invalid_client for an unknown client', async () => {
    assertInvalidClient(await redeem(server, botCode, { client_id: 'no-such-client' }));
    assertBasicChallenge(await redeem(server, botCode, {}, { authorization: basic('no-such-client', CI_BOT_SECRET) }));
  });

  it('answers 401 invalid_client with WWW-Authenticate for a wrong secret in Basic', async () => {
    assertBasicChallenge(await redeem(server, botCode, {}, { authorization: basic('ci-bot', `${CI_BOT_SECRET}x`) }));
    assertBasicChallenge(await redeem(server, botCode, {}, { authorization: basic('ci-bot', '') }));
  });

  it('answers invalid_client for a wrong secret in the body', async () => {
    assertInvalidClient(await redeem(server, botCode, { client_id: 'ci-bot', client_secret: 'wrong-secret' }));
  });

  it('answers invalid_client when a confidential client sends no secret', async () => {
    assertInvalidClient(await redeem(server, botCode, { client_id: 'ci-bot' }));
  });

  it('answers invalid_client when a public client presents a secret', async () => {
    const codes = await authorize(server);
    assertInvalidClient(await redeem(server, codes.device_code, { client_id: 'tether-cli', client_secret: 'anything-at-all' }));
  });

  it('answers invalid_request for two authentication methods at once', async () => {
    const reply = await redeem(
      server,
      botCode,
      { client_secret: CI_BOT_SECRET },
      { authorization: basic('ci-bot', CI_BOT_SECRET) },
    );
    assertOAuthError(reply, 'invalid_request');
  });

  it('authenticates clients the same way at the device authorization endpoint', async () => {
    const url = `${server.issuer}/device_authorization`;
    assertBasicChallenge(await postForm(url, {}, { authorization: basic('ci-bot', 'not-the-secret') }));
    assertInvalidClient(await postForm(url, { client_id: 'ci-bot' }));
    assertInvalidClient(await postForm(url, { client_id: 'no-such-client' }));
  });

  it('never answers 401 without a WWW-Authenticate challenge', async () => {
    // RFC 6749 §5.2 allows 401 for invalid_client "to indicate which HTTP authentication schemes are supported";
    // RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate. Without Basic, 400 is the other correct answer.
    const url = `${server.issuer}/device_authorization`;
    const replies: Array<[string, Reply]> = [
      ['unknown client', await redeem(server, botCode, { client_id: 'no-such-client' })],
      ['wrong secret in the body', await redeem(server, botCode, { client_id: 'ci-bot', client_secret: 'wrong-secret' })],
      ['confidential client without secret', await redeem(server, botCode, { client_id: 'ci-bot' })],
      ['device endpoint, no secret', await postForm(url, { client_id: 'ci-bot' })],
    ];
    const bare = replies.filter(([, r]) => r.status === 401 && !r.headers.get('www-authenticate')).map(([what]) => what);
    assert.deepEqual(bare, [], `HTTP 401 without WWW-Authenticate for: ${bare.join('; ')}`);
  });
});
