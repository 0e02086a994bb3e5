import { generateKekText } from '../../src/tokens/key-encryption.js';
// `kill -9` of one of two instances under load loses nothing acknowledged: every approval the page confirmed and
// every token a client received is on record in the shared PostgreSQL database, the other instance carries on
// alone, and `tether audit verify` passes over the chain both wrote.
//
// Runs the real binary twice (`tether serve --config`), behind a round-robin proxy written here that drops an
// instance once it is dead, as a load balancer's health check would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { normalizeUserCode } from '../../src/device-flow/user-code.js';
import { hashPassword } from '../../src/users/password.js';
import { startTether, type RunningBinary } from '../support/binary.js';
import { FormBrowser } from '../support/browser-form.js';
import { dpopKey } from '../support/dpop.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { freePort } from '../support/ports.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../support/postgres.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'cluster-kill-test-password-0123';
const WORKERS = 4;
const MIN_TOKENS_BEFORE_KILL = 12;
const MAX_LOAD_MS = 15_000;
const AFTER_KILL_MS = 2_000;

type Running = RunningBinary & { url: string };

async function startBinary(config: string, port: number, env: Record<string, string>): Promise<Running> {
  const running = await startTether(['serve', '--config', config, '--port', String(port)], env);
  return { ...running, url: `http://127.0.0.1:${port}` };
}

function roundRobin(port: number, targets: string[]): Promise<Server> {
  let next = 0;
  const proxy = createServer((req, res) => {
    if (targets.length === 0) return void res.writeHead(503).end();
    const target = new URL(targets[next++ % targets.length]!);
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => proxy.listen(port, '127.0.0.1', () => resolve(proxy)));
}

interface Flow {
  userCode: string;
  approved: boolean;
  jti?: string;
  afterKill: boolean;
}

describe('kill -9 of one instance of two (PostgreSQL)', { skip: postgresSkipReason(), timeout: 90_000 }, () => {
  let server: TestPostgres;
  let url: string;
  let dir: string;
  let proxy: Server | undefined;
  const processes: Running[] = [];

  before(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
      assert.equal(tsc.status, 0, 'npm run build failed');
    }
    server = await startPostgres();
    url = await server.database();
    dir = mkdtempSync(join(tmpdir(), 'tether-kill-'));
  });

  after(async () => {
    proxy?.close();
    proxy?.closeAllConnections();
    for (const running of processes) {
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGKILL');
        await running.exited;
      }
    }
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged approval and token; the survivor serves on; the audit chain verifies', async () => {
    const proxyPort = await freePort();
    const issuer = `http://127.0.0.1:${proxyPort}`;
    const config = join(dir, 'tether.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        issuer,
        data_dir: join(dir, 'unused'),
        storage: { engine: 'postgres', url_env: 'TETHER_DATABASE_URL', pool_size: 5 },
        scopes: ['read'],
        resources: [{ uri: `${issuer}/api`, name: 'API', scopes: ['read'] }],
        clients: [
          { id: 'tether-cli', name: 'Tether CLI', grants: [DEVICE_GRANT, 'refresh_token'], scopes: ['read'], resources: [`${issuer}/api`], default_resource: `${issuer}/api` },
        ],
        users: [{ username: 'alice', password_hash: await hashPassword(PASSWORD) }],
        // The load requests every device code from one address: lift that address's caps (no guessing here).
        brute_force: { device_authorization: { per_ip_requests: 100_000, live_codes_per_ip: 100_000 } },
      }),
    );
    // Both instances share one database, so they must share the key-encryption key of its signing keys.
    const env = { TETHER_DATABASE_URL: url, TETHER_KEK: generateKekText() };
    // One after the other: the first migrates and creates the keys (concurrent starts are test/cluster/startup.test.ts).
    const a = await startBinary(config, await freePort(), env);
    processes.push(a);
    const b = await startBinary(config, await freePort(), env);
    processes.push(b);
    const targets = [a.url, b.url];
    proxy = await roundRobin(proxyPort, targets);

    const flows: Flow[] = [];
    let killed = false;
    let stop = false;
    let failures = 0;
    async function worker(): Promise<void> {
      const key = await dpopKey();
      while (!stop) {
        const afterKill = killed;
        try {
          const authz = await postForm(`${issuer}/device_authorization`, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', `${issuer}/device_authorization`) });
          if (authz.status !== 200) throw new Error(`device_authorization ${authz.status} ${JSON.stringify(authz.body)}`);
          const flow: Flow = { userCode: String(authz.body['user_code']), approved: false, afterKill };
          flows.push(flow);
          const page = await new FormBrowser(issuer).decide(flow.userCode, 'approve', 'alice', PASSWORD);
          if (!page.includes('Device approved')) throw new Error('approval not confirmed');
          flow.approved = true;
          // Poll until the token comes: a poll that meets the dying instance is simply repeated, as a client does.
          for (let attempt = 0; attempt < 20 && !flow.jti; attempt++) {
            const token = await postForm(
              `${issuer}/token`,
              { grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: String(authz.body['device_code']) },
              { DPoP: await key.proof('POST', `${issuer}/token`) },
            ).catch(() => undefined);
            if (token?.status === 200) flow.jti = String(decodeJwt(String(token.body['access_token'])).jti);
            else if (token && token.status === 400 && token.body['error'] === 'invalid_grant') break; // redeemed by a request whose answer was lost
            else await new Promise((r) => setTimeout(r, 50));
          }
        } catch (error) {
          if (failures === 0 && !killed) process.stderr.write(`# first failure before the kill: ${String(error)}\n`);
          failures++; // a request met the killed instance: this flow is abandoned, nothing of it was acknowledged
        }
      }
    }

    const workers = Array.from({ length: WORKERS }, () => worker());
    const started = Date.now();
    while (Date.now() - started < MAX_LOAD_MS && flows.filter((f) => f.jti).length < MIN_TOKENS_BEFORE_KILL) {
      await new Promise((r) => setTimeout(r, 25));
    }
    // Mid-load: requests are in flight on both instances.
    a.child.kill('SIGKILL');
    killed = true;
    assert.equal(await a.exited, null, 'killed by signal');
    targets.splice(targets.indexOf(a.url), 1);
    await new Promise((r) => setTimeout(r, AFTER_KILL_MS));
    stop = true;
    await Promise.all(workers);

    const approved = flows.filter((f) => f.approved);
    const tokens = flows.filter((f) => f.jti);
    assert.ok(tokens.filter((f) => !f.afterKill).length >= 8, `load too light before the kill: ${tokens.length} tokens`);
    assert.ok(tokens.some((f) => f.afterKill), 'the surviving instance went on issuing tokens alone');

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const flow of approved) {
        const { rows } = await client.query<{ status: string; grant: string | null }>(
          'select d.status, g.id as grant from device_authorizations d left join grants g on g.id = d.grant_id where d.user_code = $1',
          [normalizeUserCode(flow.userCode)],
        );
        assert.ok(['approved', 'redeemed'].includes(rows[0]?.status ?? ''), `approval of ${flow.userCode} lost`);
        assert.ok(rows[0]?.grant, `grant of ${flow.userCode} lost`);
      }
      for (const flow of tokens) {
        // Access tokens are not stored; the issuance's event is, in the transaction that claimed the code.
        const { rows } = await client.query<{ status: string }>(
          "select g.status from audit_events e join grants g on g.id = e.grant_id where e.type = 'token.issued' and e.jti = $1",
          [flow.jti],
        );
        assert.deepEqual(rows, [{ status: 'active' }], 'an issued token is on record, under a live grant');
      }
    } finally {
      await client.end();
    }

    // B stops cleanly (signing the head); the chain both wrote, A's last events included, verifies.
    b.child.kill('SIGTERM');
    await b.exited;
    const verify = spawnSync(process.execPath, [join(ROOT, 'bin/tether.js'), 'audit', 'verify', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
    assert.match(verify.stdout, /Audit chain intact: \d+ events/);
    process.stderr.write(`# ${approved.length} approvals, ${tokens.length} tokens (${tokens.filter((f) => f.afterKill).length} after the kill), ${failures} abandoned flows; ${verify.stdout}`);
  });
});
