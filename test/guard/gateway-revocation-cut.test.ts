import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { FakeClock } from '../../src/shared/clock.js';
import { dpopGetStatus, startGatewayCommand, type GatewayUnderTest } from '../support/gateway.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, callApi, introspect, login, type LoggedIn } from '../support/tokens.js';
import { until } from './support.js';

/**
 * Revocation cuts exactly (issue 10, point 8). Today's statements cut at a whole second, so a token issued in the
 * same second as a revocation but after it is refused at the gateway while the server still accepts it. The
 * server's clock is frozen inside one second here (moved only by milliseconds), so every token and the revocation
 * share that second; the real `tether gateway` and the server must then agree on every token.
 */
describe('a revocation cuts at the same instant at the server and at tether gateway', () => {
  let server: TestServer;
  let gateway: GatewayUnderTest;
  let base: string;
  const clock = new FakeClock(Math.floor(Date.now() / 1000));

  const atGateway = (session: LoggedIn) => dpopGetStatus(base, session);

  before(async () => {
    server = await startServer({}, clock);
    gateway = await startGatewayCommand(server);
    base = gateway.base;
  });

  after(async () => {
    await gateway.close();
    await server.close();
  });

  test('tokens issued before it are refused everywhere, tokens issued after it accepted everywhere', async () => {
    const earlier = await login(server);
    await until(async () => (await atGateway(earlier)) === 200, 10_000, 'the gateway to accept a fresh token');
    clock.advanceMs(1);
    const revocation = await adminRevoke(server, { kind: 'user', value: 'alice', reason: 'cut test' });
    assert.equal(revocation.status, 201);
    clock.advanceMs(1);
    const later = await login(server);

    // All three in one second: the case a whole-second cut gets wrong.
    const statement = revocation.body['revocation'] as { issuedBefore: number; issuedBeforeMs: number };
    const second = (token: string) => decodeJwt(token).iat;
    assert.equal(second(earlier.accessToken), statement.issuedBefore);
    assert.equal(second(later.accessToken), statement.issuedBefore);
    assert.ok(Number(decodeJwt(earlier.accessToken)['iat_ms']) < statement.issuedBeforeMs);
    assert.ok(Number(decodeJwt(later.accessToken)['iat_ms']) > statement.issuedBeforeMs);

    // The server: the earlier token's grant is revoked, the later one is a new grant.
    assert.equal((await introspect(server, earlier.accessToken))['active'], false);
    assert.equal((await introspect(server, later.accessToken))['active'], true);
    assert.equal((await callApi(server, earlier.accessToken, { key: earlier.key })).status, 401);
    assert.equal((await callApi(server, later.accessToken, { key: later.key })).status, 200);

    // The gateway, told by its event stream: the same verdicts.
    await until(async () => (await atGateway(earlier)) === 401, 10_000, 'the gateway to apply the revocation');
    assert.equal(await atGateway(later), 200);
    const seen = gateway.upstream.seen.length;
    assert.equal(await atGateway(earlier), 401);
    assert.equal(gateway.upstream.seen.length, seen, 'a revoked token never reaches the upstream');
  });
});
