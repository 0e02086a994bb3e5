import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import type { CliIO } from '../../src/cli/io.js';
import { FakeClock } from '../../src/shared/clock.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, ath, callApi, introspect, login, type LoggedIn } from '../support/tokens.js';
import { startUpstream, until } from './support.js';

function io(env: Record<string, string>): CliIO & { err: () => string } {
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env, err: () => err };
}

/**
 * Revocation cuts exactly (issue 10, point 8). Today's statements cut at a whole second, so a token issued in the
 * same second as a revocation but after it is refused at the gateway while the server still accepts it. The
 * server's clock is frozen inside one second here (moved only by milliseconds), so every token and the revocation
 * share that second; the real `tether gateway` and the server must then agree on every token.
 */
describe('a revocation cuts at the same instant at the server and at tether gateway', () => {
  let server: TestServer;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let stop!: () => void;
  let run: Promise<number>;
  let base: string;
  const clock = new FakeClock(Math.floor(Date.now() / 1000));

  const atGateway = async (session: LoggedIn) => {
    const url = `${base}/orders`;
    const proof = await session.key.proof('GET', url, { ath: await ath(session.accessToken) });
    return (await fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof } })).status;
  };

  before(async () => {
    server = await startServer({}, clock);
    upstream = await startUpstream();
    const cli = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway' });
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    run = gatewayCommand(['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0'], cli, stopped);
    await until(() => /Tether gateway: (http:\/\/\S+)/.test(cli.err()), 10_000, 'the gateway banner');
    base = /Tether gateway: (http:\/\/\S+)/.exec(cli.err())?.[1] as string;
  });

  after(async () => {
    stop();
    await run;
    await upstream.close();
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
    const seen = upstream.seen.length;
    assert.equal(await atGateway(earlier), 401);
    assert.equal(upstream.seen.length, seen, 'a revoked token never reaches the upstream');
  });
});
