// A device code is `<row id>.<secret>`: the token endpoint and the abandon route find the request by its id and
// take it only when the hash of the whole code matches. Each attack knows a real request's id (ids are in the
// audit log and the event stream; they are no secret) and runs against real HTTP.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/shared/clock.js';
import { assertOAuthError, authorize, decide, redeem, type Reply } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const secret = () => randomBytes(32).toString('base64url');

/** What an answer shows a caller: status and body (error and description). */
const seen = (reply: Reply) => ({ status: reply.status, body: reply.body });

describe('a device code names its row', () => {
  // The pacer reads the server's clock: intervals are crossed by moving it, not by waiting.
  let server: TestServer;
  let clock: FakeClock;
  let key: DpopKey;
  before(async () => {
    clock = new FakeClock(Math.floor(Date.now() / 1000));
    server = await startServer({ device_flow: { interval: 2 } }, clock);
    key = await dpopKey('ES256', () => clock.now());
  });
  after(() => server.close());

  const poll = async (deviceCode: string, by: DpopKey = key) => redeem(server, deviceCode, { client_id: 'tether-cli' }, {}, by);
  const abandon = async (deviceCode: string, by: DpopKey = key) => {
    const url = `${server.issuer}/device_authorization/abandon`;
    return postForm(url, { client_id: 'tether-cli', device_code: deviceCode }, { DPoP: await by.proof('POST', url) });
  };
  const bound = async () =>
    authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${server.issuer}/device_authorization`) });

  it('is the row id, a dot and 256 random bits; the row is stored under that id', async () => {
    const codes = await authorize(server);
    const [id, rest, ...more] = codes.device_code.split('.');
    assert.match(id!, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(Buffer.from(rest!, 'base64url').length, 32);
    assert.deepEqual(more, []);
    const row = await server.tether.db.selectFrom('device_authorizations').select('user_code').where('id', '=', id!).executeTakeFirst();
    assert.equal(row?.user_code, codes.user_code.replaceAll('-', ''));
  });

  it('a right id with a wrong secret is answered exactly as an unknown code, and the request is untouched', async () => {
    const codes = await authorize(server);
    const [id] = codes.device_code.split('.');
    const forged = `${id}.${secret()}`;
    const unknown = seen(await poll(`${randomUUID()}.${secret()}`));
    assertOAuthError(await poll(`${randomUUID()}.${secret()}`), 'invalid_grant');

    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
    // Polls with the forged code, far inside the interval: each is unknown, none is slow_down, and none counts
    // against the real device's pace (the pacer is keyed by the row).
    for (let i = 0; i < 5; i++) assert.deepEqual(seen(await poll(forged)), unknown);
    assert.deepEqual(seen(await poll(`${id}.`)), unknown);
    assert.deepEqual(seen(await poll(`${id}`)), unknown, 'the id alone');
    clock.advance(2);
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');

    await decide(server, codes.user_code);
    // Approved: the forged code still redeems nothing and learns nothing of the approval.
    assert.deepEqual(seen(await poll(forged)), unknown);
    assert.deepEqual(seen(await abandon(forged)), seen(await abandon(`${randomUUID()}.${secret()}`)));
    const tokens = await poll(codes.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(typeof tokens.body['access_token'], 'string');
    // Redeemed: still indistinguishable from unknown (the real code now hears "already used").
    assert.deepEqual(seen(await poll(forged)), unknown);
  });

  it('a wrong secret cannot abandon someone else\'s login, even with the key the code is bound to', async () => {
    const codes = await bound();
    const [id] = codes.device_code.split('.');
    assertOAuthError(await abandon(`${id}.${secret()}`), 'invalid_grant');
    assertOAuthError(await poll(codes.device_code), 'authorization_pending');
    await decide(server, codes.user_code);
    assert.equal((await poll(codes.device_code)).status, 200);
  });

  it('one request\'s secret under another request\'s id is nothing', async () => {
    const first = await authorize(server);
    const second = await authorize(server);
    const [firstId, firstSecret] = first.device_code.split('.');
    const [secondId, secondSecret] = second.device_code.split('.');
    await decide(server, first.user_code);
    await decide(server, second.user_code);
    assertOAuthError(await poll(`${firstId}.${secondSecret}`), 'invalid_grant');
    assertOAuthError(await poll(`${secondId}.${firstSecret}`), 'invalid_grant');
    assert.equal((await poll(first.device_code)).status, 200);
    assert.equal((await poll(second.device_code)).status, 200);
  });
});
