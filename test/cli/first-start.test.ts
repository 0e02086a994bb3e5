import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../support/ports.js';

const BIN = join(import.meta.dirname, '../../bin/tether.js');
const scratch = mkdtempSync(join(tmpdir(), 'tether-first-start-'));
// The binary runs under the test runner's Node options (e.g. --preserve-symlinks for a linked node_modules).
const ENV = { PATH: process.env['PATH'], HOME: scratch, ...(process.env['NODE_OPTIONS'] ? { NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}) };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built binary to its end. */
function run(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `tether serve` and waits for its banner or log line; `stop()` ends it with SIGTERM. */
async function serve(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (c) => (out.stdout += String(c)));
  child.stderr.on('data', (c) => (out.stderr += String(c)));
  const deadline = Date.now() + 30_000;
  while (!/tether listening/.test(out.stdout) || (args.includes('--dev') && !/npx tether exec/.test(out.stderr))) {
    if (child.exitCode !== null) throw new Error(`serve ended (${child.exitCode}):\n${out.stderr}`);
    if (Date.now() > deadline) throw new Error(`serve did not start:\n${out.stdout}\n${out.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    out,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

const NO_STACK = /^\s+at .+\(.+:\d+:\d+\)$/m;

describe('tether serve: first start and daily use', () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('a port in use: says so and suggests --port; no secret is stored, so the next start prints a fresh password', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    const dataDir = join(scratch, 'busy');
    try {
      const failed = await run(['serve', '--dev', '--port', String(port), '--data-dir', dataDir]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, new RegExp(`port ${port} is already in use`));
      assert.match(failed.stderr, /--port N/);
      assert.doesNotMatch(failed.stderr, NO_STACK);
      assert.equal(existsSync(join(dataDir, 'dev-tenant.json')), false, 'nobody was shown a password, so none is kept');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    const next = await serve(['--dev', '--port', String(await freePort()), '--data-dir', dataDir]);
    try {
      assert.match(next.out.stderr, /Password: {4}\S+ {3}\(generated now and shown only this once/);
      assert.doesNotMatch(next.out.stderr, /printed at first start/);
      assert.match(next.out.stderr, /Admin key: {3}tether_admin_\S+ {3}\(shown only this once/);
      assert.ok(existsSync(join(dataDir, 'dev-tenant.json')), 'kept once the server listens');
    } finally {
      await next.stop();
    }
  });

  test('the banner says how to run tether and what to type next; logs are JSON off a terminal, text when asked', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const json = await serve(['--dev', '--port', String(port), '--data-dir', join(scratch, 'banner')]);
    try {
      assert.match(json.out.stderr, new RegExp(`npx tether login --issuer ${issuer.replace(/\./g, '\\.')}`));
      assert.match(json.out.stderr, new RegExp(`npx tether exec -- curl -s ${issuer.replace(/\./g, '\\.')}/api/whoami`));
      assert.match(json.out.stderr, /npm link/);
      const line = json.out.stdout.split('\n').find((l) => l.includes('tether listening'));
      assert.equal(JSON.parse(line ?? '{}').msg, 'tether listening');
      // Health for a load balancer: alive, and ready (the database answers).
      const health = await fetch(`${issuer}/healthz`);
      assert.equal(health.status, 200);
      const ready = await fetch(`${issuer}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready' });
    } finally {
      await json.stop();
    }
    const text = await serve(['--dev', '--port', String(await freePort()), '--data-dir', join(scratch, 'banner'), '--log-format', 'text']);
    try {
      assert.match(text.out.stdout, /^\d\d:\d\d:\d\d INFO {2}tether listening issuer=http:\/\/127\.0\.0\.1:\d+ /m);
      assert.doesNotMatch(text.out.stdout, /^\{/m);
      // A later start does not pretend to show a secret it no longer has.
      assert.match(text.out.stderr, /the one printed at first start/);
    } finally {
      await text.stop();
    }
  });

  test('serve --config F --check: 0 when valid, 2 naming the bad field, and nothing is started', async () => {
    const good = join(scratch, 'good.yaml');
    writeFileSync(
      good,
      [
        'issuer: https://auth.example.com',
        `data_dir: ${join(scratch, 'never-created')}`,
        'scopes: [read]',
        'resources: [{ uri: "https://api.example.com", name: API, scopes: [read] }]',
        'clients: [{ id: tether-cli, name: CLI, type: public, scopes: [read], resources: ["https://api.example.com"] }]',
      ].join('\n'),
    );
    const valid = await run(['serve', '--config', good, '--check']);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /is a valid Tether configuration/);
    assert.equal(existsSync(join(scratch, 'never-created')), false);
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, 'issuer: https://auth.example.com\ndevice_flow: { interval: -3 }\n');
    const invalid = await run(['serve', '--config', bad, '--check']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /device_flow\.interval:/);
    assert.doesNotMatch(invalid.stderr, NO_STACK);
    assert.equal((await run(['serve', '--dev', '--check'])).code, 2, '--check needs --config');
  });
});
