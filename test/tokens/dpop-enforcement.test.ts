import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { DEVICE_CODE_GRANT } from '../../src/oauth/grant-types.js';
import { assertOAuthError, authorize, decide, redeem } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, ath, callApi, login } from '../support/tokens.js';

describe('DPoP at the token endpoint', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      extra_clients: (api: string) => [
        { id: 'legacy-tool', name: 'Legacy tool', grants: [DEVICE_CODE_GRANT], scopes: ['read'], resources: [api], allow_bearer: true },
        { id: 'strict-cli', name: 'Strict CLI', grants: [DEVICE_CODE_GRANT], scopes: ['read'], resources: [api], require_dpop_binding: true },
      ],
    });
  });
  after(() => server.close());

  test('every device-flow client gets DPoP-bound tokens by default; no proof, no token', async () => {
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    assertOAuthError(await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, null), 'invalid_dpop_proof');
    const key = await dpopKey();
    const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key);
    assert.equal(reply.body['token_type'], 'DPoP');
    assert.deepEqual(decodeJwt(String(reply.body['access_token']))['cnf'], { jkt: key.jkt });
  });

  test('Bearer tokens only for a client configured so, and the server logs that as a risk at start', async () => {
    assert.ok(server.logs.some((l) => l.includes('RISK') && l.includes('legacy-tool')));
    assert.ok(!server.logs.some((l) => l.includes('RISK') && l.includes('tether-cli')));
    const codes = await authorize(server, { client_id: 'legacy-tool' });
    await decide(server, codes.user_code);
    const reply = await redeem(server, codes.device_code, { client_id: 'legacy-tool' }, {}, null);
    assert.equal(reply.status, 200);
    assert.equal(reply.body['token_type'], 'Bearer');
    assert.equal(decodeJwt(String(reply.body['access_token']))['cnf'], undefined);
  });

  test('a client can require binding from the very first request', async () => {
    const reply = await postForm(`${server.issuer}/device_authorization`, { client_id: 'strict-cli' });
    assertOAuthError(reply, 'invalid_dpop_proof');
    const key = await dpopKey();
    const url = `${server.issuer}/device_authorization`;
    const bound = await postForm(url, { client_id: 'strict-cli' }, { DPoP: await key.proof('POST', url) });
    assert.equal(bound.status, 200);
  });

  test('a stolen device code is worthless with another key', async () => {
    const owner = await dpopKey();
    const url = `${server.issuer}/device_authorization`;
    const codes = (await postForm(url, { client_id: 'tether-cli' }, { DPoP: await owner.proof('POST', url) })).body;
    await decide(server, String(codes['user_code']));
    const thief = await dpopKey();
    assertOAuthError(await redeem(server, String(codes['device_code']), { client_id: 'tether-cli' }, {}, thief), 'invalid_grant');
    assertOAuthError(await redeem(server, String(codes['device_code']), { client_id: 'tether-cli' }, {}, null), 'invalid_dpop_proof');
    assert.equal((await redeem(server, String(codes['device_code']), { client_id: 'tether-cli' }, {}, owner)).status, 200);
  });

  test('a replayed proof is refused', async () => {
    const key = await dpopKey();
    const proof = await key.proof('POST', `${server.issuer}/token`);
    const codes = await authorize(server);
    const first = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, { DPoP: proof });
    assertOAuthError(first, 'authorization_pending');
    assertOAuthError(await redeem(server, codes.device_code, { client_id: 'tether-cli' }, { DPoP: proof }), 'invalid_dpop_proof');
  });
});

describe('server nonces', () => {
  test('with require_nonce, a proof without the nonce gets use_dpop_nonce and the nonce to use', async () => {
    const server = await startServer({ dpop: { require_nonce: true } });
    try {
      const key = await dpopKey();
      const url = `${server.issuer}/token`;
      const codes = await authorize(server);
      const first = await postForm(url, { grant_type: DEVICE_CODE_GRANT, client_id: 'tether-cli', device_code: codes.device_code }, { DPoP: await key.proof('POST', url) });
      assertOAuthError(first, 'use_dpop_nonce');
      const nonce = first.headers.get('dpop-nonce');
      assert.ok(nonce && nonce.length >= 32);
      const stale = await postForm(url, { grant_type: DEVICE_CODE_GRANT, client_id: 'tether-cli', device_code: codes.device_code }, { DPoP: await key.proof('POST', url, { nonce: 'made-up' }) });
      assertOAuthError(stale, 'use_dpop_nonce');
      const second = await postForm(url, { grant_type: DEVICE_CODE_GRANT, client_id: 'tether-cli', device_code: codes.device_code }, { DPoP: await key.proof('POST', url, { nonce }) });
      assertOAuthError(second, 'authorization_pending');
      assert.equal(second.headers.get('dpop-nonce'), nonce);
    } finally {
      await server.close();
    }
  });
});

describe('a DPoP-bound token at an API', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('works with a proof by its key', async () => {
    const session = await login(server);
    const ok = await callApi(server, session.accessToken, { key: session.key });
    assert.equal(ok.status, 200);
    assert.equal(ok.body['sub'], 'alice');
    assert.equal(ok.body['bound_to_key'], session.key.jkt);
  });

  test('used as a Bearer token (a copy without the key) is refused with the RFC challenge', async () => {
    const session = await login(server);
    const stolen = await callApi(server, session.accessToken, { scheme: 'Bearer', key: null });
    assert.equal(stolen.status, 401);
    assert.equal(stolen.body['error'], 'invalid_token');
    assert.match(stolen.challenge ?? '', /^DPoP error="invalid_token"/);
    assert.match(stolen.challenge ?? '', /algs="ES256/);
    const noProof = await callApi(server, session.accessToken, { key: null });
    assert.equal(noProof.body['error'], 'invalid_dpop_proof');
  });

  test('a proof from a different key, a replayed proof, or a proof for another token is refused', async () => {
    const session = await login(server);
    const other = await dpopKey();
    assert.equal((await callApi(server, session.accessToken, { key: other })).body['error'], 'invalid_dpop_proof');
    const url = `${server.issuer}/api/whoami`;
    const proof = await session.key.proof('GET', url, { ath: await ath(session.accessToken) });
    assert.equal((await callApi(server, session.accessToken, { proof })).status, 200);
    assert.equal((await callApi(server, session.accessToken, { proof })).body['error'], 'invalid_dpop_proof');
    const wrongAth = await session.key.proof('GET', url, { ath: await ath('another token') });
    assert.equal((await callApi(server, session.accessToken, { proof: wrongAth })).body['error'], 'invalid_dpop_proof');
  });

  test('is refused at once after revocation', async () => {
    const session = await login(server);
    assert.equal((await callApi(server, session.accessToken, { key: session.key })).status, 200);
    await adminRevoke(server, { kind: 'user', value: 'alice' });
    const after = await callApi(server, session.accessToken, { key: session.key });
    assert.equal(after.status, 401);
    assert.equal(after.body['error'], 'invalid_token');
  });
});
