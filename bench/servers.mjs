// Starts each server under test as its own child process, pinned to one core, and stops it again.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { connectProfiler, PROFILE_DIR } from './profiler.mjs';

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

function launch(name, script, { pinned, env = {}, flags = [] }) {
  const args = [...nodeFlags(name), ...flags, ...script];
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
      return { deviceAuthorization: m.device_authorization_endpoint, token: m.token_endpoint, introspection: m.introspection_endpoint };
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
    /** CPU seconds the server has used so far: see {@link procCpuSeconds}. */
    cpuSeconds: () => procCpuSeconds(server.child.pid),
    async stop() {
      server.child.kill('SIGTERM');
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
      await server.exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}

/** The resource server that introspects at both servers (RFC 7662 client authentication, client_secret_basic). */
export const INTROSPECTOR = { id: 'bench-rs', secret: 'bench-introspection-secret-0123456789abcdef' };
/** The person who approves device codes at Tether (through the verification page's forms). */
export const APPROVER = { username: 'alice', password: 'bench-password-not-a-secret' };
export const RESOURCE = 'https://api.bench.example';

/**
 * The real `tether serve` binary on a YAML config: one public client polling every second (so round-robin polls
 * over many codes never earn slow_down) that also refreshes, one resource server that introspects, one person to
 * approve, SQLite (WAL, synchronous=normal: the durable default) in a fresh temp data dir.
 */
export async function startTether({ clientId, pinned, extra = {} }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const { hashPassword } = await import(pathToFileURL(join(ROOT, 'dist/users/password.js')).href);
  const config = {
    issuer: `http://127.0.0.1:${port}`,
    listen: { host: '127.0.0.1', port, trusted_proxies: ['127.0.0.1/32'] },
    data_dir: join(dir, 'data'),
    scopes: ['read'],
    resources: [{ uri: RESOURCE, name: 'Bench API', scopes: ['read'] }],
    clients: [
      {
        id: clientId,
        name: 'Bench device',
        type: 'public',
        grants: [DEVICE_CODE_GRANT, 'refresh_token'],
        scopes: ['read'],
        resources: [RESOURCE],
        polling_interval: 1,
      },
      { id: INTROSPECTOR.id, name: 'Bench API', type: 'confidential', secret: INTROSPECTOR.secret, grants: [DEVICE_CODE_GRANT], resources: [RESOURCE], introspection: true },
    ],
    users: [{ username: APPROVER.username, name: 'Alice', password_hash: await hashPassword(APPROVER.password) }],
    // Devices reach it through a proxy on loopback that names each one's address (X-Forwarded-For, a million
    // addresses in turn: see load.mjs), so the per-address caps stay at their defaults and are enforced as in
    // production; only the one bench client may hold more live codes than the default 10,000.
    brute_force: { device_authorization: { live_codes_per_client: 1_000_000 } },
    ...extra,
  };
  const file = join(dir, 'tether.yaml');
  writeFileSync(file, stringify(config));
  // A fresh key-encryption key per run, from the environment as production would (never the data dir).
  const env = { TETHER_KEK: randomBytes(32).toString('base64') };
  const inspectPort = PROFILE_DIR ? await freePort() : undefined;
  const flags = inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : [];
  const server = launch('Tether', ['bin/tether.js', 'serve', '--config', file], { pinned, env, flags });
  const running = await finish(server, config.issuer, () => rmSync(dir, { recursive: true, force: true }));
  running.dataDir = config.data_dir;
  running.api = RESOURCE;
  if (inspectPort) running.profiler = await connectProfiler(inspectPort);
  return running;
}

export async function startOidcProvider({ clientId, pinned }) {
  const port = await freePort();
  const server = launch('oidc-provider', ['bench/oidc-provider-server.mjs', String(port), clientId, RESOURCE, INTROSPECTOR.id, INTROSPECTOR.secret], { pinned });
  return finish(server, `http://127.0.0.1:${port}`);
}

/** The constant route of every ceiling: node:http answering a fixed small JSON body, nothing else. */
export async function startConstant({ pinned }) {
  const port = await freePort();
  const server = launch('node:http', ['bench/constant-server.mjs', String(port)], { pinned });
  await waitUntilUp(server, `http://127.0.0.1:${port}/`);
  return {
    name: server.name,
    pid: server.child.pid,
    origin: `http://127.0.0.1:${port}`,
    endpoints: { constant: `http://127.0.0.1:${port}/` },
    cpuSeconds: () => procCpuSeconds(server.child.pid),
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    },
  };
}

/** ES256 sign and verify rates of node:crypto alone, in a child on the servers' core, one window per call. */
export function startCrypto({ pinned }) {
  const [command, argv] = pinned
    ? ['taskset', ['-c', SERVER_CORE, process.execPath, 'bench/crypto-rates.mjs']]
    : [process.execPath, ['bench/crypto-rates.mjs']];
  const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise((resolve) => child.once('message', resolve));
  const ready = next();
  return {
    ready,
    async measure(seconds) {
      const answer = next();
      child.send({ seconds });
      return answer;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    },
  };
}

/**
 * CPU seconds a process (all its threads) has used: nanoseconds on CPU from /proc/PID/task/ * /schedstat where the
 * kernel keeps it (exact), else utime + stime from /proc/PID/stat (USER_HZ 100: 10 ms steps).
 */
function procCpuSeconds(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    if (ns > 0) return ns / 1e9;
  } catch {
    // a thread ended while being read, or no schedstat: fall back
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
