// Starts each server under test as its own child process, pinned to one core, and stops it again.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SERVER_CORE = '1';
const LOAD_CORE = '0';

/** Pins this (load generator) process to one core and servers to the other; false when that is impossible. */
export function setUpPinning() {
  const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
  const cores = spawnSync('nproc').stdout?.toString().trim();
  if (!hasTaskset || Number(cores) < 2) return false;
  // -a: every thread of this process (libuv pool included); threads started later inherit it.
  return spawnSync('taskset', ['-a', '-p', '-c', LOAD_CORE, String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port: Tether's issuer (and so the DPoP htu) must name the port before the server starts. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Extra node flags for a server, e.g. BENCH_TETHER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
function nodeFlags(name) {
  const value = process.env[`BENCH_${name.replace(/\W/g, '_').toUpperCase()}_NODE_FLAGS`];
  return value ? value.split(/\s+/).filter(Boolean) : [];
}

function launch(name, script, { pinned, env = {} }) {
  const args = [...nodeFlags(name), ...script];
  const [command, argv] = pinned ? ['taskset', ['-c', SERVER_CORE, process.execPath, ...args]] : [process.execPath, args];
  // NODE_ENV=production for both; output is kept (not shown) so routine logs stay quiet but a crash can be explained.
  const child = spawn(command, argv, { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { name, child, exited, output: () => output };
}

async function waitUntilUp(server, url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) break;
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${server.name} did not start:\n${server.output()}`);
}

/** Metadata discovery, as a client would: RFC 8414 first, then OpenID Connect Discovery. */
async function discover(origin) {
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const response = await fetch(origin + path);
    if (response.ok) {
      const m = await response.json();
      return { deviceAuthorization: m.device_authorization_endpoint, token: m.token_endpoint };
    }
  }
  throw new Error(`no authorization server metadata at ${origin}`);
}

async function finish(server, origin, cleanup = () => {}) {
  await waitUntilUp(server, `${origin}/.well-known/${server.name === 'Tether' ? 'oauth-authorization-server' : 'openid-configuration'}`);
  const endpoints = await discover(origin);
  return {
    name: server.name,
    pid: server.child.pid,
    origin,
    endpoints,
    /** CPU seconds the server has used so far (utime + stime from /proc; USER_HZ is 100 on Linux). */
    cpuSeconds() {
      const stat = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async stop() {
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
      await server.exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}

/**
 * The real `tether serve` binary on a YAML config: one public client polling every second (so round-robin polls
 * over many codes never earn slow_down), no users, SQLite (WAL, synchronous=normal: the durable default) in a
 * fresh temp data dir.
 */
export async function startTether({ clientId, pinned, extra = {} }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const api = 'https://api.bench.example';
  const config = {
    issuer: `http://127.0.0.1:${port}`,
    listen: { host: '127.0.0.1', port },
    data_dir: join(dir, 'data'),
    scopes: ['read'],
    resources: [{ uri: api, name: 'Bench API', scopes: ['read'] }],
    clients: [
      { id: clientId, name: 'Bench device', type: 'public', grants: [DEVICE_CODE_GRANT], scopes: ['read'], resources: [api], polling_interval: 1 },
    ],
    users: [],
    ...extra,
  };
  const file = join(dir, 'tether.yaml');
  writeFileSync(file, stringify(config));
  const server = launch('Tether', ['bin/tether.js', 'serve', '--config', file], { pinned });
  return { ...(await finish(server, config.issuer, () => rmSync(dir, { recursive: true, force: true }))), dataDir: config.data_dir, api };
}

export async function startOidcProvider({ clientId, pinned }) {
  const port = await freePort();
  const server = launch('oidc-provider', ['bench/oidc-provider-server.mjs', String(port), clientId], { pinned });
  return finish(server, `http://127.0.0.1:${port}`);
}
