import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import { main } from '../../src/cli/main.js';
import { captureIo } from '../support/cli-io.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { ath, login } from '../support/tokens.js';
import { startUpstream, until } from './support.js';

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
    const cli = captureIo();
    assert.equal(await main(['gateway', '--help'], cli), 0);
    for (const flag of ['--issuer', '--audience', '--upstream', '--port', '--stale-after', '--policies', '--tier', 'TETHER_GATEWAY_CLIENT_SECRET']) {
      assert.ok(cli.out().includes(flag), flag);
    }
  });

  test('never takes the secret from the command line, and says where to put it', async () => {
    const args = ['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0', '--client-id', 'api-gateway'];
    const inArgv = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand([...args, '--client-secret', 'x'], inArgv), 2);
    assert.match(inArgv.err(), /TETHER_GATEWAY_CLIENT_SECRET/);
    const missing = captureIo();
    assert.equal(await gatewayCommand(args, missing), 2);
    assert.match(missing.err(), /set TETHER_GATEWAY_CLIENT_SECRET/);
    const noPort = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand(args.slice(0, 6), noPort), 2);
    // Proofs name the URL clients call; on every address there is none to default to, and Host is not trusted.
    const everywhere = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET });
    assert.equal(await gatewayCommand([...args, '--host', '0.0.0.0'], everywhere), 2);
    assert.match(everywhere.err(), /--public-url/);
  });

  test('--policies: a set that does not validate stops start-up (exit 3, with the problem); a bad --tier is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-gateway-cli-'));
    try {
      const bad = join(dir, 'bad.cedar');
      writeFileSync(bad, 'permit (principal, action == Tether::Action::"CallResource", resource) when { context.verb == "GET" };\n');
      const env = { TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway' };
      const args = ['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0'];
      const invalid = captureIo(env);
      assert.equal(await gatewayCommand([...args, '--policies', bad], invalid), 3);
      assert.match(invalid.err(), /policy_invalid[\s\S]*bad\.cedar:1:\d+:.*verb/);
      const tier = captureIo(env);
      assert.equal(await gatewayCommand([...args, '--tier', 'secret'], tier), 2);
      assert.match(tier.err(), /--tier must be one of low, medium, high/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--policies PATH --tier high: the gateway refuses what the policies refuse, with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-gateway-cli-'));
    writeFileSync(
      join(dir, 'api.cedar'),
      '@id("baseline")\npermit (principal, action, resource);\n@id("no-admin")\n@reason("Not here.")\nforbid (principal, action == Tether::Action::"CallResource", resource)\nwhen { context.path like "/admin*" && resource.tier == "high" };\n',
    );
    const cli = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway' });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const args = ['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0', '--policies', dir, '--tier', 'high'];
    const run = gatewayCommand(args, cli, stopped);
    try {
      await until(() => /Tether gateway: (http:\/\/\S+)/.test(cli.err()), 5_000, 'the banner');
      assert.match(cli.err(), /Policy: .* \(tier high\), decided for every request, reloaded on change/);
      const base = /Tether gateway: (http:\/\/\S+)/.exec(cli.err())?.[1] as string;
      const session = await login(server);
      const send = async (path: string) => {
        const url = `${base}${path}`;
        const proof = await session.key.proof('GET', url, { ath: await ath(session.accessToken) });
        return fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof } });
      };
      await until(async () => (await send('/hello')).status === 200, 5_000, 'the stream to catch up');
      const refused = await send('/admin/users');
      assert.equal(refused.status, 403);
      assert.deepEqual(await refused.json(), { error: 'insufficient_scope', error_description: 'Not here.' });
      assert.match(refused.headers.get('www-authenticate') ?? '', /^DPoP error="insufficient_scope", error_description="Not here\."/);
    } finally {
      stop();
      assert.equal(await run, 0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('runs: guards the upstream, forwards the identity, stops cleanly', async () => {
    const cli = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway', TETHER_LOG_LEVEL: 'info' });
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
