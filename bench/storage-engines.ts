// `npm run bench` (storage part): the same load against Tether on SQLite, on PostgreSQL with one instance and on
// PostgreSQL with two instances (the load generator spreads requests round-robin, as a load balancer would), in one
// run, reported as ratios. Each server is the real binary (`tether serve --config`); its CPU time and the
// database's are read from /proc, so "per CPU-second" figures do not count the load generator.
//
// Needs PostgreSQL's binaries (Debian: apt-get install postgresql) or TETHER_TEST_PG_URL; skips with a note
// otherwise. Run alone: `node --import tsx bench/storage-engines.ts`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type KeyObject } from 'jose';
import { SqlDeviceAuthorizationStore } from '../src/storage/device-authorizations.js';
import { openDatabase, type StorageOptions } from '../src/storage/open.js';
import { uuidv7 } from '../src/shared/ids.js';
import { generateKekText } from '../src/tokens/key-encryption.js';
import { postgresUnavailable, startPostgres } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';

const BENCH_KEK = generateKekText();

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONNECTIONS = 16;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Keycloak's published sizing: refresh-token grants per second per vCPU. */
const KEYCLOAK_REFRESH_PER_VCPU = 120;
const TICKS = 100; // USER_HZ on Linux

const log = (line = '') => process.stdout.write(`${line}\n`);

interface Instance {
  child: ChildProcess;
  url: string;
}

/** CPU seconds used so far by `pids` and, when given, by every child of the PostgreSQL postmaster. */
function cpuSeconds(pids: number[], postmaster?: number): number {
  let ticks = 0;
  const read = (pid: string) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
    } catch {
      return undefined;
    }
  };
  const wanted = new Set(pids);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const s = read(pid);
    if (!s) continue;
    if (wanted.has(Number(pid)) || (postmaster !== undefined && (Number(pid) === postmaster || s.ppid === postmaster))) ticks += s.ticks;
  }
  return ticks / TICKS;
}

async function stopInstance(instance: Instance): Promise<void> {
  instance.child.kill('SIGTERM');
  if (instance.child.exitCode === null) await new Promise((resolve) => instance.child.once('exit', resolve));
}

async function startInstance(config: string, env: NodeJS.ProcessEnv): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/tether.js'), 'serve', '--config', config, '--port', String(port)], {
    cwd: ROOT,
    // Instances on one database share the key-encryption key its signing keys are sealed with.
    env: { ...process.env, TETHER_KEK: BENCH_KEK, ...env, TETHER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => output.push(l));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`tether did not start:\n${output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dpop() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk);
  return {
    jkt,
    proof: (htu: string) =>
      new SignJWT({ htm: 'POST', htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey as KeyObject),
  };
}

const form = (body: Record<string, string>) => new URLSearchParams(body).toString();

async function post(url: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What one step did: counted, not counted, or found its supply (approved codes, refresh tokens) used up. */
type StepResult = boolean | 'exhausted';

/**
 * Runs `step` on CONNECTIONS concurrent loops for SECONDS; returns completed steps (those that returned true). A
 * step that answers 'exhausted' ends its loop: once every loop has, the measurement ends at the last completed
 * step, not at the end of the window, so a phase that runs out of codes still reports its rate rather than a lower
 * bound (its idle tail is not counted). CPU is read by the caller after the loops end, so nothing is missed.
 */
async function measure(step: (worker: number, i: number) => Promise<StepResult>): Promise<{ done: number; seconds: number; exhausted: boolean }> {
  let done = 0;
  let exhausted = false;
  const started = performance.now();
  let lastDone = started;
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, worker) => {
      for (let i = 0; performance.now() < until; i++) {
        const result = await step(worker, i);
        if (result === 'exhausted') {
          exhausted = true;
          return;
        }
        if (result) {
          done++;
          lastDone = performance.now();
        }
      }
    }),
  );
  const ended = exhausted ? lastDone : performance.now();
  return { done, seconds: (ended - started) / 1000, exhausted };
}

interface Result {
  name: string;
  rates: Record<string, number>;
  tetherCpuPerOp: Record<string, number>;
  dbCpuPerOp: Record<string, number>;
}

async function run(name: string, storage: Record<string, unknown>, instances: number, env: NodeJS.ProcessEnv, dbOptions: StorageOptions, dataDir: string, postmaster?: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-bench-'));
  const issuer = 'http://bench.invalid';
  const config = join(dir, 'tether.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      issuer,
      data_dir: dataDir,
      storage,
      scopes: ['read'],
      resources: [{ uri: `${issuer}/api`, name: 'API', scopes: ['read'] }],
      clients: [
        { id: 'bench', name: 'Bench', grants: [DEVICE_GRANT, 'refresh_token'], scopes: ['read'], resources: [`${issuer}/api`], default_resource: `${issuer}/api`, polling_interval: 1 },
      ],
      // The person the approvals below are for; never signs in (approvals are written straight to the database).
      users: [{ username: 'bench-user', password_hash: '$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaA$unusedunusedunusedunusedunusedunusedunused' }],
      // Every bench device asks from this one address: lift its device-request caps (nothing here guesses codes).
      brute_force: { device_authorization: { per_ip_requests: 10_000_000, live_codes_per_ip: 10_000_000, live_codes_per_client: 10_000_000 } },
    }),
  );
  const servers: Instance[] = [];
  for (let i = 0; i < instances; i++) servers.push(await startInstance(config, env));
  let pids = servers.map((s) => s.child.pid!);
  const target = (i: number) => servers[i % servers.length]!.url;
  const key = await dpop();
  const result: Result = { name, rates: {}, tetherCpuPerOp: {}, dbCpuPerOp: {} };
  const phase = async (label: string, step: (worker: number, i: number) => Promise<StepResult>) => {
    const tether0 = cpuSeconds(pids);
    const db0 = postmaster === undefined ? 0 : cpuSeconds([], postmaster);
    const { done, seconds, exhausted } = await measure(step);
    const tether = cpuSeconds(pids) - tether0;
    const db = postmaster === undefined ? 0 : cpuSeconds([], postmaster) - db0;
    result.rates[label] = done / seconds;
    result.tetherCpuPerOp[label] = done > 0 ? tether / done : NaN;
    result.dbCpuPerOp[label] = done > 0 ? db / done : NaN;
    log(`  ${name}: ${label}: ${Math.round(done / seconds)}/s (${done} in ${seconds.toFixed(1)} s${exhausted ? ', every code used' : ''}; Tether ${tether.toFixed(2)} CPU-s, PostgreSQL ${db.toFixed(2)} CPU-s)`);
  };
  try {
    // Warm-up: JIT, pools, the first signing-key load.
    for (let i = 0; i < 200; i++) await post(`${target(i)}/device_authorization`, { client_id: 'bench' });

    const codes: string[] = [];
    let n = 0;
    await phase('device authorization', async () => {
      const r = await post(`${target(n++)}/device_authorization`, { client_id: 'bench' });
      if (r.status !== 200) return false;
      codes.push(String(r.body['device_code']));
      return true;
    });

    // Pending polls: each code at most once a second (polling interval 1 s), so answers are authorization_pending.
    let p = 0;
    await phase('pending poll (DPoP)', async () => {
      const code = codes[p++ % codes.length]!;
      const r = await post(`${target(p)}/token`, { grant_type: DEVICE_GRANT, device_code: code, client_id: 'bench' }, { DPoP: await key.proof(`${issuer}/token`) });
      return r.status === 400 && (r.body['error'] === 'authorization_pending' || r.body['error'] === 'slow_down');
    });

    // Approve codes straight in the database (the verification page would measure argon2, not storage).
    const db = await openDatabase(dbOptions, dataDir, env);
    const store = new SqlDeviceAuthorizationStore(db);
    const now = Math.floor(Date.now() / 1000);
    const approved: string[] = [];
    // Every code the device phase made: redemption then has as many as it can use in its window (or reports, from
    // its last answer, how fast it used them all).
    for (const code of codes) {
      const a = await store.findById(code.slice(0, code.indexOf('.')));
      if (!a || a.status !== 'pending') continue;
      const grant = {
        id: uuidv7(), userId: 'bench-user', clientId: a.clientId, deviceAuthorizationId: a.id, scopes: a.scopes, resource: a.resource,
        dpopJkt: null, deviceJkt: null, environment: null, authTime: now, createdAt: now, expiresAt: now + 43_200, idleTtl: 3600,
      };
      if (await store.approve(a.id, now, { ip: '127.0.0.1', userAgent: 'bench' }, grant, [])) approved.push(code);
    }
    await db.destroy();
    if (dbOptions.engine === 'sqlite') {
      // One process owns a SQLite file (storage/open.ts) and holds its pending requests in memory
      // (storage/pending-requests.ts): approvals written behind its back reach it when it starts again, as after
      // any restart. PostgreSQL instances read the shared rows, so they stay up.
      for (let i = 0; i < servers.length; i++) {
        await stopInstance(servers[i]!);
        servers[i] = await startInstance(config, env);
      }
      pids = servers.map((s) => s.child.pid!);
      for (let i = 0; i < 200; i++) await post(`${target(i)}/device_authorization`, { client_id: 'bench' });
    }

    const refreshTokens: string[][] = Array.from({ length: CONNECTIONS }, () => []);
    let r = 0;
    let failureShown = false;
    await phase('redemption (DPoP)', async (worker) => {
      const code = approved[r++];
      if (code === undefined) return 'exhausted';
      const reply = await post(`${target(r)}/token`, { grant_type: DEVICE_GRANT, device_code: code, client_id: 'bench' }, { DPoP: await key.proof(`${issuer}/token`) });
      if (reply.status !== 200) {
        if (!failureShown) log(`  ${name}: a redemption failed: ${reply.status} ${JSON.stringify(reply.body)}`);
        failureShown = true;
        return false;
      }
      refreshTokens[worker]!.push(String(reply.body['refresh_token']));
      return true;
    });

    let f = 0;
    await phase('refresh (DPoP, rotation)', async (worker) => {
      const tokens = refreshTokens[worker]!;
      const token = tokens.shift();
      // A loop whose redemption failed has no chain to rotate: it ends rather than spinning.
      if (token === undefined) return 'exhausted';
      const reply = await post(`${target(f++)}/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: 'bench' }, { DPoP: await key.proof(`${issuer}/token`) });
      if (reply.status !== 200) return false;
      tokens.push(String(reply.body['refresh_token']));
      return true;
    });
  } finally {
    await Promise.all(servers.map(stopInstance));
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

async function main() {
  log(`Storage engines — ${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, Node ${process.version}; ${CONNECTIONS} connections, ${SECONDS} s per measurement`);
  log('  servers, load generator and PostgreSQL share the machine: compare the ratios, not the absolute figures');
  const missing = postgresUnavailable();
  if (missing) {
    log(`  skipped: ${missing}`);
    return;
  }
  const pg = await startPostgres();
  const results: Result[] = [];
  const sqliteDir = mkdtempSync(join(tmpdir(), 'tether-bench-sqlite-'));
  try {
    const postmaster = (url: string) => {
      // Only our own cluster can be measured (an external TETHER_TEST_PG_URL server is not ours to read).
      const dataDir = process.env['TETHER_TEST_PG_URL'] ? undefined : readdirSync(tmpdir()).map((d) => join(tmpdir(), d, 'data', 'postmaster.pid')).find((f) => {
        try {
          return readFileSync(f, 'utf8').split('\n')[3]?.trim() === new URL(url).port;
        } catch {
          return false;
        }
      });
      return dataDir ? Number(readFileSync(dataDir, 'utf8').split('\n')[0]) : undefined;
    };
    results.push(await run('SQLite', { engine: 'sqlite' }, 1, {}, { engine: 'sqlite', synchronous: 'normal', pool_size: 2 }, sqliteDir));
    for (const instances of [1, 2]) {
      const url = await pg.database();
      const env = { TETHER_DATABASE_URL: url };
      const options: StorageOptions = { engine: 'postgres', synchronous: 'normal', url_env: 'TETHER_DATABASE_URL', pool_size: 10 };
      results.push(await run(`PostgreSQL ×${instances}`, { engine: 'postgres', url_env: 'TETHER_DATABASE_URL', pool_size: 10 }, instances, env, options, sqliteDir, postmaster(url)));
    }
  } finally {
    await pg.stop();
    rmSync(sqliteDir, { recursive: true, force: true });
  }
  const [base] = results;
  if (!base) return;
  log('');
  log('| operation | ' + results.map((r) => `${r.name} /s`).join(' | ') + ' | ' + results.slice(1).map((r) => `${r.name} ÷ SQLite`).join(' | ') + ' |');
  log('| --- |' + ' --- |'.repeat(results.length * 2 - 1));
  for (const op of Object.keys(base.rates)) {
    const rates = results.map((r) => Math.round(r.rates[op] ?? 0));
    const ratios = results.slice(1).map((r) => ((r.rates[op] ?? 0) / (base.rates[op] || 1)).toFixed(2));
    log(`| ${op} | ${rates.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  log('');
  log('Where the time goes (CPU milliseconds per operation: Tether + PostgreSQL):');
  for (const op of Object.keys(base.rates)) {
    log(`  ${op}: ` + results.map((r) => `${r.name} ${(1000 * (r.tetherCpuPerOp[op] ?? NaN)).toFixed(2)} + ${(1000 * (r.dbCpuPerOp[op] ?? 0)).toFixed(2)}`).join('; '));
  }
  log('');
  for (const r of results) {
    const perCpu = 1 / ((r.tetherCpuPerOp['refresh (DPoP, rotation)'] ?? NaN) + (r.dbCpuPerOp['refresh (DPoP, rotation)'] ?? 0));
    log(`  ${r.name}: ${Math.round(perCpu)} refresh grants per CPU-second (Tether + database), Keycloak publishes ${KEYCLOAK_REFRESH_PER_VCPU} per vCPU: ×${(perCpu / KEYCLOAK_REFRESH_PER_VCPU).toFixed(1)}`);
  }
}

await main();
