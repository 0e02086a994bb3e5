import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { FormBrowser } from '../support/browser-form.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';

/**
 * The independent client (panva's openid-client v6) against a running Tether: device flow with DPoP (it sends
 * proofs at the token endpoint only), refresh with rotation, calling a protected API, introspection, revocation.
 */
describe('openid-client against Tether', () => {
  let server: TestServer;
  let config: client.Configuration;
  let gateway: client.Configuration;

  before(async () => {
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
    const insecure = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' as const };
    config = await client.discovery(new URL(server.issuer), 'tether-cli', undefined, client.None(), insecure);
    gateway = await client.discovery(new URL(server.issuer), 'api-gateway', undefined, client.ClientSecretBasic(GATEWAY_SECRET), insecure);
  });
  after(() => server.close());

  test('device flow, DPoP-bound tokens, refresh rotation, API call, introspection, revocation', async () => {
    const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const device = await client.initiateDeviceAuthorization(config, { scope: 'read write' });
    assert.match(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);

    const approval = new FormBrowser(server.issuer).decide(device.user_code, 'approve');
    const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP: dpop });
    assert.match(await approval, /Device approved/);
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.ok(tokens.refresh_token?.startsWith('tether_rt_'));

    const api = new URL(`${server.issuer}/api/whoami`);
    const call = await client.fetchProtectedResource(config, tokens.access_token, api, 'GET', undefined, undefined, { DPoP: dpop });
    assert.equal(call.status, 200);
    assert.equal(((await call.json()) as { sub: string }).sub, 'alice');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: dpop });
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal(refreshed.token_type.toLowerCase(), 'dpop');

    const info = await client.tokenIntrospection(gateway, refreshed.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'alice');
    assert.equal(info.client_id, 'tether-cli');
    assert.ok((info as { cnf?: { jkt?: string } }).cnf?.jkt);

    await client.tokenRevocation(config, refreshed.refresh_token!);
    assert.equal((await client.tokenIntrospection(gateway, refreshed.access_token)).active, false);
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: dpop }), (error: unknown) => {
      return (error as { error?: string }).error === 'invalid_grant';
    });
  });

  test('a denied request ends in access_denied', async () => {
    const dpop = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const device = await client.initiateDeviceAuthorization(config, {});
    const denial = new FormBrowser(server.issuer).decide(device.user_code, 'deny');
    await assert.rejects(client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP: dpop }), (error: unknown) => {
      return (error as { error?: string }).error === 'access_denied';
    });
    assert.match(await denial, /Request denied/);
  });
});
