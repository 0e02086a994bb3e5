import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FormBrowser } from '../support/browser-form.js';
import { authorize, redeem } from '../support/device-flow.js';
import { dpopKey } from '../support/dpop.js';
import { freePort } from '../support/ports.js';
import type { TestServer } from '../support/in-process.js';
import { ath } from '../support/tokens.js';
import { startUpstream, until } from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'quickstart-password-0123';
const ADMIN_KEY = 'tether_admin_quickstart_0123456789abcdefghijkl';

interface Child {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [join(ROOT, 'bin/tether.js'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { child, stderr: () => err, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/**
 * The README's story with the built binaries and nothing configured: `serve --dev` prints the two variables a
 * gateway needs; with exactly those, `tether gateway` runs against the dev tenant; a login's token is forwarded,
 * and after an admin revocation the very next calls are refused (pushed over the event stream).
 */
describe('quick start: serve --dev, then a gateway with the two printed variables', () => {
  let dataDir: string;
  let serve: Child;
  let gateway: Child | undefined;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let issuer: string;
  let port: number;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tether-quickstart-'));
    upstream = await startUpstream();
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const { TETHER_GATEWAY_CLIENT_ID: _id, TETHER_GATEWAY_CLIENT_SECRET: _secret, ...clean } = process.env;
    serve = run(['serve', '--dev', '--port', String(port), '--data-dir', dataDir], {
      ...clean,
      TETHER_DEV_PASSWORD: PASSWORD,
      TETHER_ADMIN_KEY: ADMIN_KEY,
    });
    await until(() => serve.stderr().includes('TETHER_GATEWAY_CLIENT_SECRET='), 20_000, 'the dev banner');
  });

  after(async () => {
    gateway?.child.kill('SIGTERM');
    serve.child.kill('SIGTERM');
    await Promise.all([gateway?.exited, serve.exited]);
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('log in, call through the gateway, revoke, the next call is refused', async () => {
    const banner = serve.stderr();
    const clientId = /export TETHER_GATEWAY_CLIENT_ID=(\S+)/.exec(banner)?.[1];
    const secret = /export TETHER_GATEWAY_CLIENT_SECRET=(\S+)/.exec(banner)?.[1];
    assert.equal(clientId, 'tether-gateway');
    assert.match(secret ?? '', /^tether_gw_[A-Za-z0-9_-]{32}$/, 'a generated secret, shown once');

    // The dev tenant keeps only the secret's hash: the right secret opens the event stream, a wrong one does not.
    const events = (password: string) =>
      fetch(`${issuer}/events`, { headers: { authorization: `Basic ${Buffer.from(`tether-gateway:${password}`).toString('base64')}` } });
    assert.equal((await events(`${secret as string}x`)).status, 401);
    const open = await events(secret as string);
    assert.equal(open.status, 200);
    await open.body?.cancel();

    // Only what the banner said, plus PATH: no config file, no other setup. The gateway's own URL is its audience.
    const gatewayApi = `http://127.0.0.1:${port + 1}`;
    assert.ok(banner.includes(`tether gateway --issuer ${issuer} --audience ${gatewayApi} --upstream URL --port ${port + 1}`));
    gateway = run(['gateway', '--issuer', issuer, '--audience', gatewayApi, '--upstream', upstream.url, '--port', String(port + 1)], {
      PATH: process.env['PATH'] ?? '',
      TETHER_GATEWAY_CLIENT_ID: clientId,
      TETHER_GATEWAY_CLIENT_SECRET: secret,
    });
    const g = gateway;
    await until(() => /Tether gateway: (http:\/\/\S+)/.test(g.stderr()), 15_000, 'the gateway banner');
    const base = /Tether gateway: (http:\/\/\S+)/.exec(g.stderr())?.[1] as string;

    const server = { issuer } as TestServer;
    const key = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli', scope: 'read', resource: gatewayApi }, { DPoP: await key.proof('POST', `${issuer}/device_authorization`) });
    assert.match(await new FormBrowser(issuer).decide(codes.user_code, 'approve', 'alice', PASSWORD), /Device approved/);
    const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const token = String(reply.body['access_token']);

    const url = `${base}/orders`;
    const send = async () =>
      (await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', url, { ath: await ath(token) }) } })).status;
    await until(async () => (await send()) === 200, 10_000, 'the gateway to catch up with the event stream');
    assert.equal(upstream.seen.at(-1)?.headers['x-tether-sub'], 'alice');

    const revoked = await fetch(`${issuer}/admin/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'user', value: 'alice', reason: 'quick start' }),
    });
    assert.ok(revoked.ok, `revocation: ${revoked.status}`);
    const ms = await until(async () => (await send()) === 401, 5_000, 'the revocation at the gateway');
    assert.ok(ms < 5_000);
    assert.equal(await send(), 401, 'and every call after it');
    assert.ok(!serve.stderr().includes(token) && !g.stderr().includes(token), 'no token printed');
    assert.ok(!g.stderr().includes(secret as string), 'the gateway never prints its secret');
  });
});
