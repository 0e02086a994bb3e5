import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { AgentClient } from '../../src/cli/secrets/agent-client.js';
import { freePort } from '../support/ports.js';
import { findSecrets, readAll } from './harness.js';
import { decodeTerminalQr } from './terminal-qr.js';

/**
 * The whole story with nothing simulated: the built `tether` binary runs `login` in a real pseudo-terminal
 * (tmux) against a real `tether serve --dev`; the test reads the screen as a person would (code, link, QR code),
 * presses Enter to have the CLI open the browser, and a person in headless Chromium approves. Then `tether exec`
 * runs a command that calls the dev server's guarded API (src/guard) through the proxy, and everything under the
 * throwaway HOME, the runtime folder and the child's environment is searched for the secrets the agent holds.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tether.js');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const PASSWORD = 'e2e-password-for-alice';
const run = promisify(execFile);

let scratch: string;
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let issuer: string;
let env: NodeJS.ProcessEnv;
let tmuxSocket: string;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-S', tmuxSocket, ...args], { env, encoding: 'utf8' });
}

/** The visible screen, as plain text. */
function screen(): string {
  return tmux('capture-pane', '-p', '-t', 'login');
}

async function waitForScreen(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = screen();
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the screen shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForFile(path: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path) && readFileSync(path, 'utf8').trim()) return readFileSync(path, 'utf8').trim();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing was written to ${path}`);
}

function agentAt(): AgentClient {
  return new AgentClient(join(env['XDG_RUNTIME_DIR'] as string, 'tether/agent.sock'));
}

function tether(args: string[]) {
  return run(process.execPath, [BIN, ...args], { env, cwd: scratch, timeout: 30_000 });
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')), 'build first (npm test runs npm run build)');
  scratch = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
  const home = join(scratch, 'home');
  const runtime = join(scratch, 'run');
  mkdirSync(home);
  mkdirSync(runtime, { mode: 0o700 });
  chmodSync(runtime, 0o700);
  // The "browser" the CLI opens records the URL; the person's real browser is the Chromium below.
  const opener = join(scratch, 'open-browser.sh');
  writeFileSync(opener, `#!/bin/sh\nprintf '%s' "$1" > '${join(scratch, 'opened-url')}'\n`, { mode: 0o755 });
  tmuxSocket = join(scratch, 'tmux.sock');
  // A person's terminal: no CI variables, no D-Bus session (so no keychain answers and the agent is used).
  env = {
    PATH: process.env['PATH'],
    ...(process.env['NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}),
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    BROWSER: opener,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
  };

  // Chromium starts while the server does: the machine has two cores and both are slow to start.
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, [BIN, 'serve', '--dev', '--port', String(port), '--data-dir', join(scratch, 'server')], {
    env: { PATH: process.env['PATH'], TETHER_DEV_PASSWORD: PASSWORD, ...(process.env['NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}) },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await fetch(`${issuer}/.well-known/oauth-authorization-server`).then((r) => r.ok, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error('the dev server did not start');
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
  if (env) await agentAt().request({ op: 'stop' }).catch(() => undefined);
  server?.kill('SIGTERM');
  if (server && server.exitCode === null) await new Promise((r) => server?.once('exit', r));
  rmSync(scratch, { recursive: true, force: true });
});

describe('tether in a real terminal', { timeout: 90_000 }, () => {
  test('login with QR code and browser, approve in Chromium, call the guarded API through exec, no secret at rest', async () => {
    // 1. tether login in a pseudo-terminal, as a person would type it.
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'login', '-x', '120', '-y', '50',
      `${process.execPath} ${BIN} login --issuer ${issuer}; echo "EXIT:$?"; sleep 120`);
    const shown = await waitForScreen(/Press Enter to open/);
    const userCode = /one-time code: ([A-Z]{4}-[A-Z]{4}-[A-Z]{4})/.exec(shown)?.[1];
    assert.ok(userCode, shown);
    assert.match(shown, new RegExp(`open ${issuer}/device in a browser`));
    const completeUrl = `${issuer}/device?user_code=${userCode}`;
    // The QR code on screen decodes to the link with the code filled in.
    const qrLines = shown.split('\n').filter((line) => /[▀▄█]/.test(line));
    assert.ok(qrLines.length > 10, 'a QR code is drawn');
    assert.equal(decodeTerminalQr(qrLines.map((l) => l.replace(/^ {2}/, ''))), completeUrl);
    // A spinner with the time left.
    await waitForScreen(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Waiting for approval… the code expires in \dm/);

    // 2. Enter: the CLI opens the browser at the complete link.
    tmux('send-keys', '-t', 'login', 'Enter');
    assert.equal(await waitForFile(join(scratch, 'opened-url')), completeUrl);
    await waitForScreen(/Opened .* in your browser/);

    // 3. The person approves in a real browser.
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(completeUrl);
      // Sign-in comes first; the code from the link rides along to be confirmed after it.
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Check the code' }).waitFor();
      assert.equal((await page.locator('.code').innerText()).trim(), userCode, 'the page shows the code the terminal shows');
      await page.getByRole('button', { name: 'Yes, the codes match' }).click();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { name: 'Device approved' }).waitFor();
    } finally {
      await context.close();
    }

    // 4. The terminal says so, and login exits 0.
    const done = await waitForScreen(/EXIT:\d+/, 30_000);
    assert.match(done, /EXIT:0/, done);
    assert.match(done, new RegExp(`Signed in to ${issuer} as alice`));
    assert.match(done, /Secrets +in the memory of the tether agent/);

    const status = await tether(['status']);
    assert.match(status.stdout, /Signed in as +alice/);
    assert.match(status.stdout, new RegExp(`Resource +${issuer}/api`));
    assert.match(status.stdout, /held by the tether agent/);

    // 5. A command calls the guarded API through tether exec; the child writes its environment for the scan.
    const envFile = join(scratch, 'child-env.json');
    const child = await tether([
      'exec', '--', process.execPath, '-e',
      `fetch(process.env.TETHER_API_URL + '/whoami').then(async (r) => {
         require('node:fs').writeFileSync(process.argv[1], JSON.stringify(process.env));
         console.log(r.status, await r.text());
       })`,
      envFile,
    ]);
    const [statusCode, ...body] = child.stdout.trim().split(' ');
    assert.equal(statusCode, '200', child.stdout + child.stderr);
    const whoami = JSON.parse(body.join(' ')) as Record<string, unknown>;
    assert.equal(whoami['sub'], 'alice');
    assert.equal(whoami['scope'], 'read write');
    const profile = JSON.parse(readFileSync(join(env['HOME'] as string, '.config/tether/config.json'), 'utf8')) as {
      profiles: { account: string; key_thumbprint: string }[];
    };
    assert.equal(whoami['bound_to_key'], profile.profiles[0]?.key_thumbprint);

    // 5b. The README's line as written, from the checkout: npx tether exec -- curl -s <issuer>/api/whoami.
    // curl goes through the proxy because exec points http_proxy at it for an http:// resource.
    const readme = await run('npx', ['--no-install', 'tether', 'exec', '--', 'curl', '-s', `${issuer}/api/whoami`], { env, cwd: ROOT, timeout: 60_000 });
    assert.equal((JSON.parse(readme.stdout) as Record<string, unknown>)['sub'], 'alice', readme.stdout + readme.stderr);

    // 6. The secrets live only in the agent: search for them everywhere else.
    const agent = agentAt();
    const held = (await agent.request({ op: 'read', account: profile.profiles[0]?.account ?? '' }))['tokens'] as {
      accessToken: string;
      refreshToken: string;
    };
    assert.ok(held.accessToken && held.refreshToken.startsWith('tether_rt_'));
    const texts = readAll([env['HOME'] as string, env['XDG_RUNTIME_DIR'] as string]);
    texts['child environment'] = readFileSync(envFile, 'utf8');
    texts['login terminal'] = tmux('capture-pane', '-p', '-t', 'login', '-S', '-');
    const pid = Number((await agent.request({ op: 'hello' }))['pid']);
    if (existsSync(`/proc/${pid}/environ`)) {
      texts['agent environment'] = readFileSync(`/proc/${pid}/environ`, 'latin1');
      texts['agent command line'] = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    }
    assert.deepEqual(findSecrets(texts, [held.accessToken, held.refreshToken]), []);

    // 7. Logout revokes at the server and wipes the agent.
    const out = await tether(['logout']);
    assert.match(out.stderr, /revoked at the server/);
    assert.equal((await agent.request({ op: 'read', account: profile.profiles[0]?.account ?? '' }))['tokens'], null);
    assert.equal(existsSync(join(env['HOME'] as string, '.config/tether/config.json')), false);
  });
});
