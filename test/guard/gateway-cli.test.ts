import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { CliIO } from '../../src/cli/io.js';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import { main } from '../../src/cli/main.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { ath, login } from '../support/tokens.js';
import { startUpstream, until } from './support.js';

function io(env: Record<string, string> = {}): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env, out: () => out, err: () => err };
}

describe('tether gateway', () => {
  let server: TestServer;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  before(async () => {
    server = await startServer();
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
    await server.close();
  });

  test('is registered, and its help names every flag', async () => {
    const cli = io();
    assert.equal(await main(['gateway', '--help'], cli), 0);
    for (const flag of ['--issuer', '--audience', '--upstream', '--port', '--stale-after', 'TETHER_GATEWAY_CLIENT_SECRET']) assert.ok(cli.out().includes(flag), flag);
  });

  test('never takes the secret from the command line, and says where to put it', async () => {
    const args = ['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0', '--client-id', 'api-gateway'];
    const inArgv = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand([...args, '--client-secret', 'x'], inArgv), 2);
    assert.match(inArgv.err(), /TETHER_GATEWAY_CLIENT_SECRET/);
    const missing = io();
    assert.equal(await gatewayCommand(args, missing), 2);
    assert.match(missing.err(), /set TETHER_GATEWAY_CLIENT_SECRET/);
    const noPort = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand(args.slice(0, 6), noPort), 2);
    // Proofs name the URL clients call; on every address there is none to default to, and Host is not trusted.
    const everywhere = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand([...args, '--host', '0.0.0.0'], everywhere), 2);
    assert.match(everywhere.err(), /--public-url/);
  });

  test('runs: guards the upstream, forwards the identity, stops cleanly', async () => {
    const cli = io({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway', TETHER_LOG_LEVEL: 'info' });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const run = gatewayCommand(['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0', '--scope', 'read'], cli, stopped);
    await until(() => /Tether gateway: (http:\/\/\S+)/.test(cli.err()), 5_000, 'the banner');
    const base = /Tether gateway: (http:\/\/\S+)/.exec(cli.err())?.[1] as string;
    const session = await login(server);
    const url = `${base}/hello`;
    const send = async () =>
      (await fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: await session.key.proof('GET', url, { ath: await ath(session.accessToken) }) } })).status;
    await until(async () => (await send()) === 200, 5_000, 'the stream to catch up');
    assert.equal(upstream.seen.at(-1)?.headers['x-tether-sub'], 'alice');
    assert.equal((await fetch(url)).status, 401);
    stop();
    assert.equal(await run, 0);
    assert.match(cli.out(), /tether gateway listening/);
    assert.ok(!cli.out().includes(GATEWAY_SECRET) && !cli.out().includes(session.accessToken), 'no secret or token in the log');
  });
});
