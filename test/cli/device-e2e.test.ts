import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, decodeJwt, type JWK } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { DEVICE_KEY_ACCOUNT } from '../../src/cli/auth/device-key.js';
import { AgentClient } from '../../src/cli/secrets/agent-client.js';
import { hashSecret } from '../../src/shared/crypto.js';
import { hashPassword } from '../../src/users/password.js';
import { approveInBrowser } from '../support/browser-form.js';
import { TEST_KEK } from '../support/in-process.js';
import { freePort } from '../support/ports.js';
import { findSecrets, readAll } from './harness.js';

/**
 * Device identity end to end with nothing simulated (issue 12, points 1 and 5): the built `tether` enrolls this
 * machine's device key against a real `tether serve --config` whose API is high-tier under the default pack, an
 * administrator approves it with `tether admin devices approve`, and `tether login` in a real terminal (tmux),
 * approved in headless Chromium, succeeds with `device_class: managed`. The device key is only in the agent:
 * nothing under HOME holds a private key. The same HOME copied to a second machine (its own runtime folder, so no
 * agent) has a new, unenrolled key, and its login for the high-tier API is refused.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tether.js');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const PASSWORD = 'e2e-password-for-alice';
const ADMIN = 'tether_admin_e2e_key_0123456789abcdefghijklmnopqrstuv';
const run = promisify(execFile);

let scratch: string;
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let issuer: string;
let tmuxSocket: string;
/** The first machine and the machine the HOME was copied to. */
let machine: NodeJS.ProcessEnv;
let copied: NodeJS.ProcessEnv;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', tmuxSocket, ...args], { env: machine, encoding: 'utf8' });
}

async function waitForScreen(session: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = tmux('capture-pane', '-p', '-t', session);
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the screen shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `tether …` in a terminal of `env`'s machine, its exit code printed after it. */
function inTerminal(session: string, env: NodeJS.ProcessEnv, args: string): void {
  const vars = ['HOME', 'XDG_RUNTIME_DIR', 'BROWSER', 'NODE_OPTIONS'].filter((k) => env[k]).map((k) => `${k}='${env[k]}'`).join(' ');
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', session, '-x', '120', '-y', '50', `env ${vars} ${process.execPath} ${BIN} ${args}; echo "EXIT:$?"; sleep 120`);
}

function agentOf(env: NodeJS.ProcessEnv): AgentClient {
  return new AgentClient(join(env['XDG_RUNTIME_DIR'] as string, 'tether/agent.sock'));
}

function tether(env: NodeJS.ProcessEnv, args: string[]) {
  return run(process.execPath, [BIN, ...args], { env, cwd: scratch, timeout: 30_000 });
}

function machineEnv(name: string): NodeJS.ProcessEnv {
  const home = join(scratch, name, 'home');
  const runtime = join(scratch, name, 'run');
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  chmodSync(runtime, 0o700);
  // A person's terminal: no CI variables, no D-Bus session (so no keychain answers and the agent is used).
  return {
    PATH: process.env['PATH'],
    ...(process.env['NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}),
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    BROWSER: join(scratch, 'open-browser.sh'),
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
  };
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')), 'build first (npm test runs npm run build)');
  scratch = mkdtempSync(join(tmpdir(), 'tether-device-e2e-'));
  writeFileSync(join(scratch, 'open-browser.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  tmuxSocket = join(scratch, 'tmux.sock');
  machine = machineEnv('laptop');
  copied = machineEnv('other');

  const launching = chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  // JSON is YAML: a tenant like the dev one, but its API is high-tier, so only a managed device may log in.
  const config = {
    issuer,
    listen: { host: '127.0.0.1', port },
    data_dir: join(scratch, 'server'),
    scopes: ['read', 'write'],
    resources: [{ uri: `${issuer}/api`, name: 'Production API', scopes: ['read', 'write'], tier: 'high' }],
    clients: [
      {
        id: 'tether-cli',
        name: 'Tether CLI',
        type: 'public',
        grants: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        scopes: ['read', 'write'],
        resources: [`${issuer}/api`],
      },
    ],
    admin: { api_key_hashes: [hashSecret(ADMIN)] },
    users: [{ username: 'alice', name: 'Alice', password_hash: await hashPassword(PASSWORD), groups: ['engineering'] }],
  };
  const configFile = join(scratch, 'tether.yaml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  server = spawn(process.execPath, [BIN, 'serve', '--config', configFile], {
    env: { PATH: process.env['PATH'], TETHER_KEK: TEST_KEK, ...(process.env['NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}) },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(`${issuer}/.well-known/oauth-authorization-server`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await launching;
});

after(async () => {
  await browser?.close();
  try {
    tmux('kill-server');
  } catch {
    // Already gone.
  }
  for (const env of [machine, copied]) if (env) await agentOf(env).request({ op: 'stop' }).catch(() => undefined);
  server?.kill('SIGTERM');
  if (server && server.exitCode === null) await new Promise((r) => server?.once('exit', r));
  rmSync(scratch, { recursive: true, force: true });
});

describe('device identity with the built CLI', { timeout: 120_000 }, () => {
  test('enroll, admin approve, login in a terminal approved in Chromium: managed; a copied HOME is not', async () => {
    // 1. The machine enrolls its device key (made now, in the agent).
    const enrolled = await tether(machine, ['device', 'enroll', '--issuer', issuer, '--name', 'alice-laptop']);
    const jkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(enrolled.stdout)?.[1];
    assert.ok(jkt, enrolled.stdout + enrolled.stderr);
    assert.match(enrolled.stdout, /in the tether agent/);
    assert.match(enrolled.stdout, /pending/);
    const held = (await agentOf(machine).request({ op: 'public-key', account: DEVICE_KEY_ACCOUNT }))['jwk'] as JWK;
    assert.equal(await calculateJwkThumbprint(held), jkt, 'the agent holds the enrolled key');

    // 2. An administrator approves it.
    const approved = await tether({ ...machine, TETHER_ADMIN_KEY: ADMIN }, ['admin', 'devices', 'approve', '--class', 'managed', '--issuer', issuer, '--', jkt]);
    assert.match(approved.stdout, /as managed/);
    assert.match((await tether(machine, ['device', 'status', '--issuer', issuer])).stdout, /approved as managed/);

    // 3. tether login in a real terminal; the person approves in Chromium.
    inTerminal('login', machine, `login --issuer ${issuer}`);
    const shown = await waitForScreen('login', /Press Enter to open/);
    const userCode = /one-time code: ([A-Z]{4}-[A-Z]{4}-[A-Z]{4})/.exec(shown)?.[1];
    assert.ok(userCode, shown);
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await approveInBrowser(page, `${issuer}/device?user_code=${userCode}`, { username: 'alice', password: PASSWORD });
    } finally {
      await context.close();
    }
    const done = await waitForScreen('login', /EXIT:\d+/, 30_000);
    assert.match(done, /EXIT:0/, done);
    assert.match(done, new RegExp(`Device +managed, vouched for by this machine's device key ${jkt}`));

    // 4. Its token carries the device's class and names the device key.
    const profile = JSON.parse(readFileSync(join(machine['HOME'] as string, '.config/tether/config.json'), 'utf8')) as { profiles: { account: string }[] };
    const account = profile.profiles[0]?.account ?? '';
    const tokens = (await agentOf(machine).request({ op: 'read', account }))['tokens'] as { accessToken: string; refreshToken: string };
    const claims = decodeJwt(tokens.accessToken);
    assert.equal(claims['device_class'], 'managed');
    assert.equal(claims['device_jkt'], jkt);
    const whoami = await tether(machine, ['request', 'GET', `${issuer}/api/whoami`]);
    assert.equal((JSON.parse(whoami.stdout) as { sub: string }).sub, 'alice');

    // 5. Nothing under HOME or the runtime folder holds a private key or a token.
    const texts = readAll([machine['HOME'] as string, machine['XDG_RUNTIME_DIR'] as string]);
    assert.deepEqual(findSecrets(texts, [tokens.accessToken, tokens.refreshToken]), []);

    // 6. The HOME copied to another machine: no agent there holds the key, so it makes its own, unenrolled.
    cpSync(machine['HOME'] as string, copied['HOME'] as string, { recursive: true });
    const there = await tether(copied, ['device', 'status', '--issuer', issuer]);
    const otherJkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(there.stdout)?.[1];
    assert.ok(otherJkt && otherJkt !== jkt, there.stdout);
    assert.match(there.stdout, /not enrolled/);
    inTerminal('copied', copied, `login --issuer ${issuer}`);
    const refused = await waitForScreen('copied', /EXIT:\d+/, 30_000);
    assert.match(refused, /EXIT:5/, refused);
    assert.match(refused.replace(/\s+/g, ' '), /This API needs a managed device/);
  });
});
