// GET /session: the holder of a DPoP-bound token asks whether its own grant lives (what `tether status` shows).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, ath, login } from '../support/tokens.js';

describe('the own-session endpoint', () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startServer();
    url = `${server.issuer}/session`;
  });
  after(() => server.close());

  async function ask(token: string, key: DpopKey | null, scheme = 'DPoP') {
    const headers: Record<string, string> = { authorization: `${scheme} ${token}` };
    if (key) headers['dpop'] = await key.proof('GET', url, { ath: await ath(token) });
    const response = await fetch(url, { headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
  }

  it('says active, then inactive once an admin revokes the grant', async () => {
    const session = await login(server, { user: 'bob' });
    const live = await ask(session.accessToken, session.key);
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.equal(live.body['active'], true);
    assert.equal(typeof live.body['expires_at'], 'number');
    assert.equal(live.headers.get('cache-control'), 'no-store');
    await adminRevoke(server, { kind: 'user', value: 'bob', reason: 'test' });
    assert.deepEqual((await ask(session.accessToken, session.key)).body, { active: false });
  });

  it('answers only the key the token is bound to: a stolen token with another key, or without a proof, learns nothing', async () => {
    const session = await login(server);
    const thief = await ask(session.accessToken, await dpopKey());
    assert.equal(thief.status, 400);
    assert.equal(thief.body['error'], 'invalid_dpop_proof');
    const bare = await ask(session.accessToken, null);
    assert.equal(bare.status, 400);
    assert.equal(bare.body['error'], 'invalid_request');
    const bearer = await ask(session.accessToken, session.key, 'Bearer');
    assert.equal(bearer.status, 400);
    // A proof for another token (ath) does not pass either.
    const other = await login(server);
    const headers = { authorization: `DPoP ${session.accessToken}`, dpop: await session.key.proof('GET', url, { ath: await ath(other.accessToken) }) };
    assert.equal((await fetch(url, { headers })).status, 400);
  });
});
