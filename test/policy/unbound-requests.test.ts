// The default pack refuses device codes asked for without a DPoP proof for medium- and high-tier APIs: such a code
// is bound to nobody, so whoever holds it first redeems it. Played through the HTTP endpoints.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEVICE_CODE_GRANT } from '../../src/config/schema.js';
import { assertOAuthError, decide, redeem } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { startServer, type TestServer } from '../support/in-process.js';

const STAGING = 'https://staging.example';

describe('unbound device requests under the default pack', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      extra_resources: [{ uri: STAGING, name: 'Staging', scopes: ['read'], tier: 'medium' }],
      extra_clients: [{ id: 'stage-cli', name: 'Stage CLI', grants: [DEVICE_CODE_GRANT], scopes: ['read'], resources: [STAGING] }],
    });
  });
  after(() => server.close());

  const ask = (client: string, headers: Record<string, string> = {}) =>
    postForm(`${server.issuer}/device_authorization`, { client_id: client }, headers);

  test('a medium-tier API: no code without a proof, so there is no unbound code to steal', async () => {
    const refused = await ask('stage-cli');
    assertOAuthError(refused, 'unauthorized_client');
    assert.match(String(refused.body['error_description']), /proves its key from the first request/);
  });

  test('a medium-tier API: with a proof the code is bound, and a thief with another key cannot redeem it', async () => {
    const device = await dpopKey();
    const reply = await ask('stage-cli', { dpop: await device.proof('POST', `${server.issuer}/device_authorization`) });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const codes = reply.body as { device_code: string; user_code: string };
    await decide(server, codes.user_code);
    assertOAuthError(await redeem(server, codes.device_code, { client_id: 'stage-cli' }, {}, await dpopKey()), 'invalid_grant');
    assert.equal((await redeem(server, codes.device_code, { client_id: 'stage-cli' }, {}, device)).status, 200);
  });

  test('a low-tier API still takes unbound requests (standard libraries send DPoP only at the token endpoint)', async () => {
    const reply = await ask('tether-cli');
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });
});
