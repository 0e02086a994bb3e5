// `node bench/guard-bench.mjs` (after `npm run build`): the guard, measured in one run.
//
//  1. Throughput on one core: the guard (node:http adapter, DPoP-bound token + a unique proof per request) with
//     request-time Cedar policy on (CallResource, the default pack, decision cache on) beside the same guard with
//     policy off, and beside its ceiling C = 1/(1/R_const + 1/R_verify), where R_const is node:http answering a
//     constant route and R_verify one ES256 verification per request with node:crypto alone; and beside npm
//     express-oauth2-jwt-bearer checking a plain Bearer JWT.
//  2. Revocation to enforcement: 4 guards subscribed to a real Tether, 200 revocations through the admin API, the
//     time from before each admin call until each guard refuses the token.
//  3. Memory: 1,000,000 guard checks in-process, heap after GC at every 100,000.
//
// BENCH_GUARD_PHASES=throughput runs only part 1; BENCH_GUARD_SECONDS shortens the windows; BENCH_PROFILE=DIR
// writes a CPU profile of each guard server and of the comparison server there.
//
// Servers under test run as child processes pinned to CPU 1 (taskset), the load generator here on CPU 0.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { FormBrowser } from './flows.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const dist = (path) => import(pathToFileURL(join(ROOT, 'dist', path)).href);
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const PASSWORD = 'bench-password-not-a-secret';
const ADMIN_KEY = 'tether_admin_bench_key_0123456789abcdefghijklmnop';
const GATEWAY_SECRET = 'bench-gateway-secret-0123456789abcdefghij';
const SERVER_CORE = '1';
const LOAD_CORE = '0';

const LOAD = { connections: 32, pipelining: 1 };
const WARMUP_SECONDS = 2;
/** Seconds per measured window (BENCH_GUARD_SECONDS to shorten a run on a busy machine). */
const SECONDS = Number(process.env['BENCH_GUARD_SECONDS'] ?? 3);
/**
 * Measured windows for R_const, R_verify and the guard; the best of each counts. Other work on the machine only
 * ever lowers a rate, and it comes and goes: the best window is the closest to what the code can do.
 */
const ROUNDS = 3;
const SESSIONS = 16;
const REVOCATIONS = 200;
const GUARDS = 4;
const MEMORY_CHECKS = Number(process.env['BENCH_GUARD_MEMORY_CHECKS'] ?? 1_000_000);
/** BENCH_GUARD_PHASES=throughput,revocation,memory (default: all three). */
const PHASES = new Set((process.env['BENCH_GUARD_PHASES'] ?? 'throughput,revocation,memory').split(','));
const TARGETS = { ceilingFraction: 0.7, p50Ms: 20, p99Ms: 100, policyOverhead: 0.15 };

const log = (line = '') => process.stdout.write(`${line}\n`);
const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => `${n.toFixed(1)} ms`;
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sleep = (t) => new Promise((r) => setTimeout(r, t));

// ---------------------------------------------------------------------------------------------------------------
// DPoP keys and proofs, signed with node:crypto: the load side must not be what limits the rate.

function clientKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const jwk = { kty, crv, x, y };
  const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
  return { privateKey, jwk, jkt, header: b64({ typ: 'dpop+jwt', alg: 'ES256', jwk }) };
}

function proof(key, htm, htu, extra = {}) {
  const input = `${key.header}.${b64({ htm, htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ...extra })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const athOf = (token) => createHash('sha256').update(token).digest('base64url');

// ---------------------------------------------------------------------------------------------------------------
// Processes: pinning, children, CPU accounting.

function canPin() {
  return spawnSync('taskset', ['-V']).status === 0 && Number(spawnSync('nproc').stdout?.toString().trim()) >= 2;
}

function pin(pid, core) {
  return spawnSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** CPU seconds a process has used, from /proc (NaN elsewhere). */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds every process on the machine has used (user + nice + system + steal, /proc/stat), or NaN. */
function machineCpuSeconds() {
  try {
    const [user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + steal) / 100;
  } catch {
    return NaN;
  }
}

/** Starts `node guard-bench.mjs --child ROLE`, pinned when possible; resolves with its first IPC message. */
function child(role, { pinned, core = SERVER_CORE, env = {}, execArgv = [] }) {
  // e.g. BENCH_GUARD_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the guard server.
  const flags = (process.env[`BENCH_${role.toUpperCase()}_NODE_FLAGS`] ?? '').split(/\s+/).filter(Boolean);
  // BENCH_PROFILE=DIR: a CPU profile of each guard server (guard-policy-on, guard-policy-off, guard-not-asked) and of
  // the comparison server (comparison), as NAME.cpuprofile (summarize with a profile tool; the file also holds the
  // idle time between the windows).
  const profileDir = process.env['BENCH_PROFILE'];
  const profileName =
    role === 'constverify'
      ? 'comparison'
      : role !== 'guard'
        ? undefined
        : env['BENCH_GUARD_ASKED'] === 'no'
          ? 'guard-not-asked'
          : `guard-policy-${env['BENCH_GUARD_POLICY'] === 'off' ? 'off' : 'on'}`;
  if (profileDir && profileName) flags.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${profileName}.cpuprofile`);
  const args = [...execArgv, ...flags, SELF, '--child', role];
  const [command, argv] = pinned ? ['taskset', ['-c', core, process.execPath, ...args]] : [process.execPath, args];
  const proc = spawn(command, argv, { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  const keep = (chunk) => (output = (output + chunk.toString()).slice(-4000));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const first = new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`${role} exited (${code}):\n${output}`)));
  });
  return {
    proc,
    first,
    output: () => output,
    next: () => new Promise((resolve) => proc.once('message', resolve)),
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to Tether: device logins (driving the verification page's forms), admin revocations.

async function postForm(url, form, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** One device login: DPoP-bound with `key`, or Bearer (client bench-bearer) without. */
async function deviceLogin(issuer, browser, key) {
  const clientId = key ? 'tether-cli' : 'bench-bearer';
  const dpop = (url) => (key ? { dpop: proof(key, 'POST', url) } : {});
  const codes = await postForm(`${issuer}/device_authorization`, { client_id: clientId, scope: 'read' }, dpop(`${issuer}/device_authorization`));
  await browser.approve(codes.user_code);
  const tokens = await postForm(`${issuer}/token`, { grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: clientId }, dpop(`${issuer}/token`));
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
  return { key, token: tokens.access_token, ath: athOf(tokens.access_token), grant: claims.sid, type: tokens.token_type };
}

async function logins(issuer, keys, parallel = 4) {
  const out = new Array(keys.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      const browser = new FormBrowser(issuer, { username: 'alice', password: PASSWORD });
      while (next < keys.length) {
        const i = next++;
        out[i] = await deviceLogin(issuer, browser, keys[i]);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Load: autocannon with every response classified; a rate counts only answers of the expected kind.

async function drive(target, { duration, headers, expect = 200 }) {
  const { default: autocannon } = await import('autocannon');
  let valid = 0;
  let other = 0;
  const samples = [];
  const sample = () => ({ at: performance.now(), server: cpuSeconds(target.pid), load: process.cpuUsage(), machine: machineCpuSeconds() });
  const start = sample();
  const deadline = start.at + duration * 1000;
  let end;
  const timer = setTimeout(() => (end = sample()), duration * 1000);
  await autocannon({
    url: target.url,
    ...LOAD,
    duration,
    timeout: 10,
    requests: [
      {
        method: 'GET',
        // Fixed headers let autocannon build the request once and reuse it: the cheapest load there is.
        ...(typeof headers === 'function'
          ? {
              setupRequest(req) {
                req.headers = headers();
                return req;
              },
            }
          : { headers }),
        onResponse(status, body) {
          // Answers still in flight when the window closes are not counted: a rate is counts / the exact window.
          if (performance.now() > deadline) return;
          if (status === expect) valid++;
          else {
            other++;
            if (samples.length < 3) samples.push(`${status} ${String(body).slice(0, 200)}`);
          }
        },
      },
    ],
  });
  clearTimeout(timer);
  end ??= sample();
  const seconds = (end.at - start.at) / 1000;
  const serverCpu = end.server - start.server;
  const loadCpu = (end.load.user - start.load.user + end.load.system - start.load.system) / 1e6;
  return {
    rate: valid / seconds,
    // Answers per CPU-second the server actually got: the robust figure when the machine is shared or the load
    // generator cannot saturate the server; on a quiet machine with the server at 100% it equals the rate.
    perCpuSecond: valid / serverCpu,
    valid,
    other,
    samples,
    serverCpu: serverCpu / seconds,
    // Cores' worth of CPU that other processes used meanwhile: ~0 on an otherwise idle machine.
    otherLoad: (end.machine - start.machine - serverCpu - loadCpu) / seconds,
  };
}

/** A pool of header sets that hands out each once (a proof must be unique); counts how often it ran dry. */
class HeaderPool {
  constructor() {
    this.items = [];
    this.next = 0;
    this.exhausted = 0;
  }

  fill(items) {
    this.items = items;
    this.next = 0;
    this.exhausted = 0;
  }

  take() {
    const item = this.items[this.next++];
    if (item) return item;
    this.exhausted++;
    return this.items[this.next % this.items.length];
  }
}

function dpopHeaders(sessions, htu, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = sessions[i % sessions.length];
    out[i] = { authorization: `DPoP ${s.token}`, dpop: proof(s.key, 'GET', htu, { ath: s.ath }) };
  }
  return out;
}

/** The best of several results by rate per server CPU-second. */
const best = (results) => results.reduce((a, b) => (b.perCpuSecond > a.perCpuSecond ? b : a));

/**
 * Measurement windows against a server that checks proofs: each window gets a pool of unique proofs sized from
 * the rate seen so far; a window that ran dry is measured again with a bigger pool.
 */
class DpopLoad {
  constructor(target, sessions, label) {
    this.target = target;
    this.sessions = sessions;
    this.label = label;
    this.pool = new HeaderPool();
    this.expected = 4_000;
  }

  async warm() {
    this.pool.fill(dpopHeaders(this.sessions, this.target.url, 30_000));
    const warm = await drive(this.target, { duration: WARMUP_SECONDS, headers: () => this.pool.take() });
    // The warm-up includes the JIT's first seconds: size the first pool well above its rate.
    this.expected = Math.max(warm.rate * 1.5, this.expected);
  }

  async window() {
    for (let attempt = 0; attempt < 3; attempt++) {
      this.pool.fill(dpopHeaders(this.sessions, this.target.url, Math.ceil(this.expected * SECONDS * 1.4) + 5_000));
      const run = await drive(this.target, { duration: SECONDS, headers: () => this.pool.take() });
      this.expected = Math.max(this.expected, run.rate * 1.2);
      if (this.pool.exhausted === 0) return run;
      log(`    ${this.label}: ran out of proofs; once more with a bigger pool`);
    }
    throw new Error(`${this.label}: could not keep the proof pool ahead of the server`);
  }
}

/**
 * Warm-up, then measured runs sending the same headers every time (for servers that do not check proofs: the
 * server parses headers of the same size, and the load generator does the least work); the best counts.
 */
async function measureFixed(target, headers, rounds = 1) {
  await drive(target, { duration: WARMUP_SECONDS, headers });
  const results = [];
  for (let r = 0; r < rounds; r++) results.push(await drive(target, { duration: SECONDS, headers }));
  return best(results);
}

// ---------------------------------------------------------------------------------------------------------------
// "Policy on" is Tether's own request-time policy as a guard gets it: connectGuard's Cedar CallResource decision
// (src/guard/api-policy.ts, the default pack) with the guard's decision cache. "Policy off" is policies: false.

/** Microseconds per uncached Cedar decision, for the report: the same request facts, the decision cache bypassed. */
async function uncachedDecisionMicros(policy) {
  const now = Date.now() / 1000;
  const identity = {
    sub: 'alice',
    clientId: 'tether-cli',
    scopes: ['read'],
    grantId: 'g',
    jkt: 'k',
    jti: 'j',
    issuedAt: now,
    expiresAt: now + 60,
    claims: { sub: 'alice', client_id: 'tether-cli', scope: 'read', iat: now, cnf: { jkt: 'k' }, groups: ['engineering'] },
  };
  const context = (i) => ({ method: 'GET', path: '/api', route: '/api', ip: `10.0.${(i >> 8) & 255}.${i & 255}`, userAgent: 'x', now });
  // Distinct addresses defeat the engine's own answer cache only if a policy reads them; the default pack does
  // not, so this is the cost of building the request and interpreting a remembered Cedar answer, plus one real one.
  for (let i = 0; i < 5_000; i++) policy.authorize(identity, context(i));
  // CPU time, not wall time: on a shared machine the wall clock also counts other processes' turns.
  const cpu = process.cpuUsage();
  for (let i = 0; i < 5_000; i++) policy.authorize(identity, context(i));
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 5_000;
}

// ---------------------------------------------------------------------------------------------------------------
// Child roles.

async function serveTether() {
  const { createTether } = await dist('app.js');
  const { parseConfig } = await dist('config/load.js');
  const { LocalUserDirectory } = await dist('users/local-directory.js');
  const { hashPassword } = await dist('users/password.js');
  const { hashSecret } = await dist('shared/crypto.js');
  const { createLogger } = await dist('logging/logger.js');
  const port = Number(process.env['BENCH_PORT']);
  const issuer = `http://127.0.0.1:${port}`;
  const api = `${issuer}/api`;
  const config = parseConfig(
    {
      issuer,
      listen: { host: '127.0.0.1', port },
      data_dir: process.env['BENCH_DATA'],
      scopes: ['read', 'write'],
      resources: [{ uri: api, name: 'Bench API', scopes: ['read', 'write'] }],
      device_flow: { interval: 1 },
      clients: [
        { id: 'tether-cli', name: 'CLI', grants: [DEVICE_GRANT], scopes: ['read', 'write'], resources: [api] },
        { id: 'bench-bearer', name: 'Bearer', grants: [DEVICE_GRANT], scopes: ['read'], resources: [api], allow_bearer: true },
        { id: 'api-gateway', name: 'Gateway', type: 'confidential', secret: GATEWAY_SECRET, grants: [DEVICE_GRANT], resources: [api], introspection: true },
      ],
      admin: { api_key_hashes: [hashSecret(ADMIN_KEY)] },
      users: [{ username: 'alice', name: 'Alice', password_hash: await hashPassword(PASSWORD) }],
      // Every bench login comes from this one address: lift its device-request caps (nothing here guesses codes).
      brute_force: { device_authorization: { per_ip_requests: 1_000_000, live_codes_per_ip: 1_000_000 } },
    },
    'bench config',
  );
  const logger = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });
  const tether = await createTether({ config, users: await LocalUserDirectory.create(config.users), logger });
  await tether.listen();
  process.send({ issuer, api });
  process.once('SIGTERM', () => {
    // Open event streams would keep close() waiting: cut them.
    const closing = tether.close();
    tether.http.server.closeAllConnections();
    closing.finally(() => process.exit(0));
  });
}

function listenOn(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function serveConstant() {
  const body = JSON.stringify({ sub: 'alice', client_id: 'tether-cli', scope: 'read' });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  });
  process.send({ port: await listenOn(server) });
}

/**
 * The ceiling as a server: the constant route plus one ES256 verification of the request's DPoP proof (its key
 * imported once per header), nothing else. Not part of C; it shows what the two costs come to when one process
 * pays both per request (caches and branch predictors shared), which C, a sum of two separately measured costs,
 * does not see. 401 for a signature that does not verify, so every counted answer did the work.
 */
async function serveVerifyingConstant() {
  process.send({ port: await listenOn(createServer(verifyingHandler())) });
}

/** The request handler of {@link serveVerifyingConstant}: one ES256 verification of the DPoP proof, nothing else. */
function verifyingHandler() {
  const body = JSON.stringify({ sub: 'alice', client_id: 'tether-cli', scope: 'read' });
  const keys = new Map();
  return (req, res) => {
    const dpop = req.headers['dpop'] ?? '';
    const first = dpop.indexOf('.');
    const last = dpop.lastIndexOf('.');
    const header = dpop.slice(0, first);
    let key = keys.get(header);
    if (!key) {
      key = createPublicKey({ key: JSON.parse(Buffer.from(header, 'base64url').toString()).jwk, format: 'jwk' });
      keys.set(header, key);
    }
    const ok = verify('sha256', Buffer.from(dpop.slice(0, last), 'latin1'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(dpop.slice(last + 1), 'base64url'));
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  };
}

async function serveGuard() {
  const { connectGuard, silentLogger } = await dist('guard/index.js');
  const { withGuard } = await dist('guard/adapters/node-http.js');
  const { issuer, api } = JSON.parse(process.env['BENCH_TETHER']);
  const policyOn = process.env['BENCH_GUARD_POLICY'] !== 'off';
  const { guard, stream, policy } = await connectGuard({
    issuer,
    audience: api,
    clientId: 'api-gateway',
    clientSecret: GATEWAY_SECRET,
    requiredScopes: ['read'],
    // The default pack, as `tether gateway` runs without --policies; false: no request-time policy at all.
    ...(policyOn ? {} : { policies: false }),
    logger: silentLogger,
  });
  await stream.ready(10_000);
  const decisionMicros = policy ? await uncachedDecisionMicros(policy) : undefined;
  const label = policy ? `Cedar CallResource, ${policy.loaded.policies.length} policies (default pack), decision cache on` : 'off';
  // BENCH_GUARD_ASKED=no: the same process (guard connected, revocation stream live, policy loaded), but requests
  // get only the one-verification handler: what the process costs apart from the guard's checks.
  const asked = process.env['BENCH_GUARD_ASKED'] !== 'no';
  const guarded = withGuard(guard, (_req, res, who) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ sub: who.sub, client_id: who.clientId, scope: who.scopes.join(' ') }));
  });
  const server = createServer(asked ? guarded : verifyingHandler());
  process.send({ port: await listenOn(server), policy: label, decisionMicros });
  process.on('message', () => process.send({ stats: guard.stats(), fresh: stream.health().fresh }));
}

async function serveExpress() {
  const { default: express } = await import('express');
  const { auth } = await import('express-oauth2-jwt-bearer');
  const { issuer, api } = JSON.parse(process.env['BENCH_TETHER']);
  const app = express();
  app.use(auth({ issuerBaseURL: issuer, audience: api, tokenSigningAlg: 'ES256', dpop: { enabled: false } }));
  app.get('/api', (req, res) => res.json({ sub: req.auth.payload.sub, client_id: req.auth.payload.client_id, scope: req.auth.payload.scope }));
  process.send({ port: await listenOn(createServer(app)) });
}

/** R_verify: ES256 verifications per second with node:crypto alone, each over a different proof. */
async function measureVerify() {
  const key = clientKey();
  const inputs = [];
  for (let i = 0; i < 20_000; i++) {
    const p = proof(key, 'GET', 'http://127.0.0.1/api', { ath: 'x'.repeat(43) });
    const dot = p.lastIndexOf('.');
    inputs.push([Buffer.from(p.slice(0, dot)), Buffer.from(p.slice(dot + 1), 'base64url')]);
  }
  const publicKey = createPublicKey(key.privateKey);
  const run = (seconds) => {
    let n = 0;
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    const cpu = process.cpuUsage();
    while (performance.now() < end) {
      for (let i = 0; i < 500; i++, n++) {
        const [data, signature] = inputs[n % inputs.length];
        if (!verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) throw new Error('bad signature');
      }
    }
    const used = process.cpuUsage(cpu);
    return { rate: n / ((performance.now() - start) / 1000), perCpuSecond: n / ((used.user + used.system) / 1e6) };
  };
  run(1);
  process.send({ ready: true });
  // One window per request, so the parent can interleave it with the HTTP measurements.
  process.on('message', () => process.send(run(2)));
}

/**
 * The memory run: MEMORY_CHECKS guard checks in this process, each with a unique proof (signed by a worker thread
 * running ahead), on a clock advancing 1 ms per check (1,000 requests/s simulated, so the replay window of 70 s
 * holds 70,000 proof ids), with a revocation every 100 checks (each kept 120 s) and policy on.
 */
async function memoryRun() {
  const { Guard, StaticJwks, RevocationList, silentLogger } = await dist('guard/index.js');
  const issuerKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuerJwk = { ...issuerKeys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' };
  const ISS = 'https://as.bench';
  const AUD = 'https://api.bench';
  const HTU = 'https://api.bench/orders';
  const start = Math.floor(Date.now() / 1000);
  let now = start;
  const keys = Array.from({ length: SESSIONS }, () => clientKey());
  const tokens = keys.map((key, i) => {
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({ iss: ISS, aud: AUD, sub: `user${i}`, client_id: 'tether-cli', scope: 'read', sid: `grant-${i}`, iat: start, exp: start + 4_000, jti: randomUUID(), cnf: { jkt: key.jkt } })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: issuerKeys.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  });
  const list = new RevocationList();
  const { ApiPolicy } = await dist('guard/index.js');
  const policy = await ApiPolicy.load({ audience: AUD });
  const guard = new Guard({
    issuer: ISS,
    audience: AUD,
    keys: new StaticJwks({ keys: [issuerJwk] }),
    revocations: { health: () => ({ fresh: true }), isRevoked: (t) => list.covers(t, now) },
    policy,
    logger: silentLogger,
    now: () => now,
  });
  const BATCH = 20_000;
  const signer = new Worker(SELF, {
    workerData: {
      total: MEMORY_CHECKS,
      batch: BATCH,
      start,
      htu: HTU,
      keys: keys.map((k) => ({ pem: k.privateKey.export({ format: 'pem', type: 'pkcs8' }), header: k.header })),
      aths: tokens.map(athOf),
    },
  });
  const batches = [];
  let waiting;
  signer.on('message', (text) => {
    batches.push(text);
    waiting?.();
  });
  const nextBatch = async () => {
    while (batches.length === 0) await new Promise((r) => (waiting = r));
    signer.postMessage('more');
    return batches.shift().split('\n');
  };
  const heap = [];
  const sample = (done) => {
    global.gc();
    const { heapUsed, rss } = process.memoryUsage();
    heap.push({ done, heapUsed, rss, ...guard.stats(), revocations: list.size });
  };
  let ok = 0;
  let refused = 0;
  const began = performance.now();
  for (let done = 0; done < MEMORY_CHECKS; ) {
    const proofs = await nextBatch();
    for (const p of proofs) {
      const k = done % SESSIONS;
      now = start + done / 1000;
      const result = await guard.check({ method: 'GET', url: HTU, authorization: `DPoP ${tokens[k]}`, dpop: p, ip: '192.0.2.1', userAgent: 'bench' });
      if (result.ok) ok++;
      else refused++;
      done++;
      if (done % 100 === 0) list.apply({ seq: done, kind: 'grant', value: `other-grant-${done}`, issuedBefore: Math.floor(now), relevantUntil: Math.floor(now) + 120 });
    }
    if (done % 100_000 === 0) sample(done);
  }
  await signer.terminate();
  process.send({ heap, ok, refused, seconds: (performance.now() - began) / 1000, policy: 'Cedar CallResource (default pack)' });
}

/** The memory run's signer thread: proofs for checks [0, total), batch by batch, at most a few batches ahead. */
function signerThread() {
  const { total, batch, start, htu, keys, aths } = workerData;
  const signing = keys.map((k) => ({ privateKey: createPrivateKey(k.pem), header: k.header }));
  let produced = 0;
  let credit = 3;
  const produce = () => {
    while (credit > 0 && produced < total) {
      const lines = new Array(Math.min(batch, total - produced));
      for (let i = 0; i < lines.length; i++, produced++) {
        const k = produced % signing.length;
        const key = signing[k];
        const input = `${key.header}.${b64({ htm: 'GET', htu, iat: Math.floor(start + produced / 1000), jti: randomBytes(12).toString('base64url'), ath: aths[k] })}`;
        lines[i] = `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      }
      credit--;
      parentPort.postMessage(lines.join('\n'));
    }
  };
  parentPort.on('message', () => {
    credit++;
    produce();
  });
  produce();
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function revocationLatency(tether, victims) {
  const { Guard, RemoteJwks, RevocationStream, silentLogger } = await dist('guard/index.js');
  const guards = [];
  for (let i = 0; i < GUARDS; i++) {
    const keys = new RemoteJwks({ url: `${tether.issuer}/jwks`, logger: silentLogger });
    const stream = new RevocationStream({ issuer: tether.issuer, clientId: 'api-gateway', clientSecret: GATEWAY_SECRET, keys, logger: silentLogger });
    const guard = new Guard({ issuer: tether.issuer, audience: tether.api, keys, revocations: stream, logger: silentLogger });
    const waiters = new Map();
    stream.subscribe((n) => {
      if (n.type !== 'revocation') return;
      waiters.get(n.revocation.value)?.();
    });
    guards.push({ guard, stream, waiters });
  }
  await Promise.all(guards.map((g) => g.stream.ready(10_000)));
  const htu = `${tether.api}/orders`;
  const request = (s) => ({ method: 'GET', url: htu, authorization: `DPoP ${s.token}`, dpop: proof(s.key, 'GET', htu, { ath: s.ath }) });
  // Every guard accepts every victim first (and caches its token), so what is timed below is revocation alone.
  for (const g of guards) for (const s of victims) if (!(await g.guard.check(request(s))).ok) throw new Error('a victim token was refused before its revocation');
  const samples = [];
  const worst = [];
  const fromResponse = [];
  for (const [i, s] of victims.entries()) {
    const prepared = guards.map(() => request(s));
    const applied = guards.map((g) => new Promise((resolve) => g.waiters.set(s.grant, resolve)));
    const t0 = performance.now();
    const response = await fetch(`${tether.issuer}/admin/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'grant', value: s.grant, reason: 'bench' }),
    });
    if (!response.ok) throw new Error(`admin revocation: ${response.status} ${await response.text()}`);
    const answered = performance.now();
    await response.arrayBuffer();
    const enforced = await Promise.all(
      guards.map(async (g, j) => {
        await applied[j];
        const result = await g.guard.check(prepared[j]);
        if (result.ok || result.code !== 'revoked') throw new Error(`guard ${j} did not refuse revoked grant ${i}: ${result.ok ? 'accepted' : result.code}`);
        return performance.now();
      }),
    );
    for (const t of enforced) {
      samples.push(t - t0);
      fromResponse.push(Math.max(0, t - answered));
    }
    worst.push(Math.max(...enforced) - t0);
    for (const g of guards) g.waiters.delete(s.grant);
  }
  await Promise.all(guards.map((g) => g.stream.close()));
  const sort = (a) => [...a].sort((x, y) => x - y);
  return { samples: sort(samples), worst: sort(worst), fromResponse: sort(fromResponse) };
}

async function main() {
  const pinned = canPin() && pin(process.pid, LOAD_CORE);
  log(`Tether guard benchmark — ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`);
  log(
    pinned
      ? `  servers under test pinned to CPU ${SERVER_CORE}, load generator (autocannon, this process) pinned to CPU ${LOAD_CORE}`
      : '  NOTE: taskset or a second core is missing: nothing is pinned; figures are rougher',
  );
  log(
    `  ${LOAD.connections} connections, pipelining ${LOAD.pipelining}, ${WARMUP_SECONDS} s warm-up, then ${SECONDS} s measurements ` +
      `(R_const, R_verify and the guard in alternation, best of ${ROUNDS} each)`,
  );
  if (!existsSync(join(ROOT, 'dist/guard/index.js'))) throw new Error('dist/ is missing: run `npm run build` first');

  const dataDir = mkdtempSync(join(tmpdir(), 'tether-guard-bench-'));
  const { createServer: probe } = await import('node:net');
  const port = await new Promise((resolve) => {
    const s = probe().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  // A fresh key-encryption key per run, from the environment as production would (never the data dir).
  const kek = randomBytes(32).toString('base64');
  const tether = child('tether', { pinned, env: { BENCH_PORT: String(port), BENCH_DATA: dataDir, TETHER_KEK: kek } });
  const children = [tether];
  try {
    const tetherInfo = await tether.first;
    const started = performance.now();
    // The revocation victims are logins too; a run without that phase does not need them.
    const victimCount = PHASES.has('revocation') ? REVOCATIONS : 0;
    const keys = Array.from({ length: SESSIONS + victimCount }, () => clientKey());
    const all = await logins(tetherInfo.issuer, [...keys, null]);
    const sessions = all.slice(0, SESSIONS);
    const victims = all.slice(SESSIONS, SESSIONS + victimCount);
    const bearer = all.at(-1);
    if (bearer.type !== 'Bearer' || sessions[0].type !== 'DPoP') throw new Error('unexpected token types from the bench tenant');
    log(`  ${all.length} device logins against a real Tether in ${((performance.now() - started) / 1000).toFixed(1)} s (each its own grant and DPoP key)`);
    log();

    const summary = [];
    // --- Throughput, one server at a time on the server core; Tether moves to the load core meanwhile.
    if (PHASES.has('throughput')) {
      if (pinned) pin(tether.proc.pid, LOAD_CORE);
      const env = { BENCH_TETHER: JSON.stringify(tetherInfo) };
      const run = async (role, measure) => {
        const c = child(role, { pinned, env });
        children.push(c);
        const info = await c.first;
        const target = { url: `http://127.0.0.1:${info.port}/api`, pid: c.proc.pid };
        const result = await measure(target, c);
        await c.stop();
        return { ...result, info };
      };
      const row = (label, r, extra = '') =>
        log(`  ${label.padEnd(58, ' ')} ${int(r.rate).padStart(7)}  ${int(r.perCpuSecond).padStart(7)}  ${`${(r.serverCpu * 100).toFixed(0)}%`.padStart(5)}  ${r.otherLoad.toFixed(2).padStart(5)}${extra}`);
      log('Throughput on one core                                         req/s  per CPU-s  server  other');
      log('                                                                (wall)  (server)    CPU   load');
      // R_const, R_verify and the guard are measured in alternation, round after round, and the best window of each
      // counts: load from elsewhere on the machine comes and goes, and this way it cannot single out one of them.
      const start = async (role, extra = {}) => {
        const c = child(role, { pinned, env: { ...env, ...extra } });
        children.push(c);
        const info = await c.first;
        return { c, info, target: { url: `http://127.0.0.1:${info.port}/api`, pid: c.proc.pid } };
      };
      const constServer = await start('const');
      const guardServer = await start('guard');
      const bareServer = await start('guard', { BENCH_GUARD_POLICY: 'off' });
      const unaskedServer = await start('guard', { BENCH_GUARD_ASKED: 'no' });
      const realized = await start('constverify');
      const verifier = child('verify', { pinned });
      children.push(verifier);
      await verifier.first;
      const constHeaders = dpopHeaders(sessions, constServer.target.url, 1)[0];
      const guardLoad = new DpopLoad(guardServer.target, sessions, 'guard');
      const bareLoad = new DpopLoad(bareServer.target, sessions, 'guard, policy off');
      const realizedLoad = new DpopLoad(realized.target, sessions, 'constant route + one verification');
      const unaskedLoad = new DpopLoad(unaskedServer.target, sessions, "guard's process, checks not asked");
      await drive(constServer.target, { duration: WARMUP_SECONDS, headers: constHeaders });
      await guardLoad.warm();
      await bareLoad.warm();
      await realizedLoad.warm();
      await unaskedLoad.warm();
      const rounds = { constant: [], verify: [], guard: [], bare: [], realized: [], unasked: [] };
      for (let r = 0; r < ROUNDS; r++) {
        rounds.constant.push(await drive(constServer.target, { duration: SECONDS, headers: constHeaders }));
        verifier.proc.send('run');
        rounds.verify.push(await verifier.next());
        rounds.realized.push(await realizedLoad.window());
        rounds.unasked.push(await unaskedLoad.window());
        // Policy off and on in alternation, the order swapped each round, so neither gets the quieter moments.
        if (r % 2 === 0) {
          rounds.bare.push(await bareLoad.window());
          rounds.guard.push(await guardLoad.window());
        } else {
          rounds.guard.push(await guardLoad.window());
          rounds.bare.push(await bareLoad.window());
        }
      }
      guardServer.c.proc.send('stats');
      const guardStats = await guardServer.c.next();
      for (const c of [constServer.c, guardServer.c, bareServer.c, unaskedServer.c, realized.c, verifier]) await c.stop();
      const constant = best(rounds.constant);
      const rVerify = best(rounds.verify);
      const guarded = { ...best(rounds.guard), info: guardServer.info };
      const bare = best(rounds.bare);
      row('node:http, constant route (R_const)', constant);
      log(`  ${'ES256 verification, node:crypto alone (R_verify)'.padEnd(58, ' ')} ${int(rVerify.rate).padStart(7)}  ${int(rVerify.perCpuSecond).padStart(7)}`);
      const ceiling = { rate: 1 / (1 / constant.rate + 1 / rVerify.rate), perCpuSecond: 1 / (1 / constant.perCpuSecond + 1 / rVerify.perCpuSecond) };
      log(`  ${'ceiling C = 1/(1/R_const + 1/R_verify)'.padEnd(58, ' ')} ${int(ceiling.rate).padStart(7)}  ${int(ceiling.perCpuSecond).padStart(7)}`);
      const oneProcess = best(rounds.realized);
      row('  for comparison: both in one process, nothing else', oneProcess, `   = ${(oneProcess.perCpuSecond / ceiling.perCpuSecond).toFixed(2)} C`);
      // The guard's process (guard connected, revocation stream live, policy loaded) answering with the same one
      // verification: what that process costs before the guard checks anything.
      const unasked = best(rounds.unasked);
      row("  the same, in the guard's process, its checks not asked", unasked, `   = ${(unasked.perCpuSecond / ceiling.perCpuSecond).toFixed(2)} C`);
      const fraction = guarded.perCpuSecond / ceiling.perCpuSecond;
      const okGuard = fraction >= TARGETS.ceilingFraction;
      row('Tether guard: DPoP token, unique proof, policy off', bare, `   = ${(bare.perCpuSecond / ceiling.perCpuSecond).toFixed(2)} C`);
      row('Tether guard: DPoP token, unique proof, policy on', guarded, `   = ${fraction.toFixed(2)} C (wall ${(guarded.rate / ceiling.rate).toFixed(2)} C)`);
      // Per request: CPU time with policy on over CPU time with policy off, from the per CPU-second rates.
      const overhead = bare.perCpuSecond / guarded.perCpuSecond - 1;
      const okPolicy = overhead <= TARGETS.policyOverhead;
      const express = await run('express', (t) => measureFixed(t, { authorization: `Bearer ${bearer.token}` }, ROUNDS));
      row('express-oauth2-jwt-bearer: plain Bearer JWT (Express)', express);
      log();
      log(`  guard: ${fraction.toFixed(2)} C per server CPU-second, target >= ${TARGETS.ceilingFraction} C: ${okGuard ? 'met' : 'NOT MET'}`);
      log(`  guard / (constant route + one verification in one process): ${(guarded.perCpuSecond / oneProcess.perCpuSecond).toFixed(2)}, the part of the gap to C that is the guard's own work`);
      log(
        `    of which its process (stream, policy engine, caches; checks not asked): ${(unasked.perCpuSecond / oneProcess.perCpuSecond).toFixed(2)}, ` +
          `its checks per request: ${(guarded.perCpuSecond / unasked.perCpuSecond).toFixed(2)}`,
      );
      log(`  guard / express-oauth2-jwt-bearer: ${(guarded.perCpuSecond / express.perCpuSecond).toFixed(1)}x, while also verifying a proof signature, DPoP binding, replay, revocation and policy`);
      log(
        `  policy on adds ${(overhead * 100).toFixed(1)}% per request (server CPU per request, on vs off), ` +
          `target <= ${TARGETS.policyOverhead * 100}%: ${okPolicy ? 'met' : 'NOT MET'}`,
      );
      log(`  policy: ${guarded.info.policy}; one decision without the guard's cache costs ${guarded.info.decisionMicros.toFixed(1)} µs`);
      log(`  guard state after its run: ${JSON.stringify(guardStats.stats)}; revocation stream current: ${guardStats.fresh}`);
      for (const [name, list] of [['const', rounds.constant], ['const + verify', rounds.realized], ["guard's process, not asked", rounds.unasked], ['guard', rounds.guard], ['guard, policy off', rounds.bare], ['express', [express]]]) {
        const other = list.reduce((n, r) => n + r.other, 0);
        if (other > 0) log(`  ${name}: ${int(other)} unexpected answers, e.g. ${list.flatMap((r) => r.samples).slice(0, 3).join(' | ')}`);
      }
      const busy = [constant, guarded, bare, express].some((r) => r.otherLoad > 0.3);
      if (busy) log('  NOTE: other processes used CPU during the runs ("other load", in cores): wall rates are unreliable; per CPU-second figures hold');
      log();

      summary.push(`guard ${fraction.toFixed(2)} C (${okGuard ? 'met' : 'NOT MET'})`, `policy ${overhead >= 0 ? '+' : ''}${(overhead * 100).toFixed(1)}% (${okPolicy ? 'met' : 'NOT MET'})`);
    }

    // --- Revocation latency: Tether back on the server core, 4 guards here.
    if (PHASES.has('revocation')) {
      if (pinned) pin(tether.proc.pid, SERVER_CORE);
      log(`Revocation to enforcement: ${GUARDS} guards subscribed to Tether's event stream, ${REVOCATIONS} admin revocations, one at a time`);
      const latency = await revocationLatency(tetherInfo, victims);
      const p50 = percentile(latency.samples, 50);
      const p99 = percentile(latency.samples, 99);
      const okLatency = p50 < TARGETS.p50Ms && p99 < TARGETS.p99Ms;
      log(
        `  from before the admin call until a guard refuses the token (${latency.samples.length} samples): ` +
          `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(latency.samples.at(-1))}  ` +
          `(targets p50 < ${TARGETS.p50Ms} ms, p99 < ${TARGETS.p99Ms} ms: ${okLatency ? 'met' : 'NOT MET'})`,
      );
      log(`  until all ${GUARDS} guards refuse: p50 ${ms(percentile(latency.worst, 50))}, p99 ${ms(percentile(latency.worst, 99))}`);
      log(`  after the admin API's response: p50 ${ms(percentile(latency.fromResponse, 50))}, p99 ${ms(percentile(latency.fromResponse, 99))}`);
      log();
      summary.push(`revocation p50 ${ms(p50)} / p99 ${ms(p99)} (${okLatency ? 'met' : 'NOT MET'})`);
    }
    await tether.stop();

    // --- Memory.
    if (PHASES.has('memory')) {
      log(`Memory over ${int(MEMORY_CHECKS)} guard checks in one process (unique proofs, 1,000 requests/s simulated clock, a revocation every 100 checks, policy on)`);
      const memory = child('memory', { pinned: false, execArgv: ['--expose-gc'] });
      children.push(memory);
      const mem = await memory.first;
      await memory.stop();
      const base = mem.heap.find((h) => h.done === 200_000) ?? mem.heap[0];
      const last = mem.heap.at(-1);
      const peak = Math.max(...mem.heap.filter((h) => h.done >= base.done).map((h) => h.heapUsed));
      log(`  heap after GC, every 100k: ${mem.heap.map((h) => (h.heapUsed / 1048576).toFixed(1)).join(' ')} MB`);
      log(`  rss: ${mb(mem.heap[0].rss)} at 100k, ${mb(last.rss)} at the end`);
      log(`  state at the end: ${JSON.stringify({ tokens: last.tokens, proofKeys: last.proofKeys, proofIds: last.proofIds, decisions: last.decisions, revocations: last.revocations })}`);
      const growth = last.heapUsed - base.heapUsed;
      const flat = growth < 0.1 * base.heapUsed + 2 * 1048576;
      log(
        `  ${int(mem.ok)} accepted, ${int(mem.refused)} refused, in ${mem.seconds.toFixed(0)} s; heap ${mb(base.heapUsed)} at ${int(base.done)} -> ${mb(last.heapUsed)} at ${int(last.done)} ` +
          `(peak ${mb(peak)}): ${flat ? 'flat' : 'NOT FLAT'}`,
      );
      log();
      summary.push(`memory ${flat ? 'flat' : 'NOT FLAT'} over ${int(MEMORY_CHECKS)} checks`);
    }
    log(`Summary: ${summary.join(', ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    for (const c of children) await c.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const role = process.argv[2] === '--child' ? process.argv[3] : undefined;
if (!isMainThread) signerThread();
else if (role) {
  const roles = { tether: serveTether, const: serveConstant, constverify: serveVerifyingConstant, guard: serveGuard, express: serveExpress, verify: measureVerify, memory: memoryRun };
  // Exit normally on SIGTERM, so --cpu-prof and the like get to write their files.
  if (role !== 'tether') process.once('SIGTERM', () => process.exit(0));
  roles[role]().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
