// Crash durability: whatever the server confirmed before a SIGKILL is still there after a restart.
//
// Runs the real binary (`tether serve --dev`), drives device authorizations, approvals through the verification
// page and token redemptions concurrently, kills the process mid-load, restarts it on the same data directory and
// checks every confirmed approval and every returned access token against the database (its grant, its refresh
// token and its issuance event; access tokens themselves are not stored) and the new process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { hashSecret } from '../../src/shared/crypto.js';
import { startTether, type RunningBinary } from '../support/binary.js';
import { FormBrowser } from '../support/browser-form.js';
import { basic } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { DEVICE_GRANT, postForm } from '../support/http.js';
import { freePort } from '../support/ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'durability-test-password-0123';
/** The dev tenant's gateway (a resource server allowed to introspect) takes its secret from here. */
const GATEWAY_SECRET = 'durability-test-gateway-secret-0123456789';
/**
 * Concurrent device flows. Each keeps at most one code pending, and with the default brute-force budget
 * (2^-32) more than five live codes pause code entry server-wide, so stay below that.
 */
const WORKERS = 4;
/** Background token requests that write nothing but keep the event loop and the database busy. */
const NOISE_WORKERS = 4;
/** The kill comes once the load has run this long and produced this many tokens (or at the deadline). */
const MIN_LOAD_MS = 2500;
const MIN_TOKENS = 24;
const MAX_LOAD_MS = 12_000;

/** Starts `tether serve --dev` and resolves once it logs "tether listening". */
function startBinary(port: number, dataDir: string): Promise<RunningBinary> {
  return startTether(
    ['serve', '--dev', '--port', String(port), '--data-dir', dataDir],
    { TETHER_DEV_PASSWORD: PASSWORD, TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET },
    { timeoutMs: 15_000 },
  );
}

interface Flow {
  key: DpopKey;
  deviceCode: string;
  userCode: string;
  approved: boolean;
  jti?: string;
  sid?: string;
  token?: string;
  refreshToken?: string;
}

describe('durability across SIGKILL', { timeout: 60_000 }, () => {
  let dataDir: string;
  let port: number;
  let issuer: string;
  const processes: RunningBinary[] = [];
  const flows: Flow[] = [];

  before(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        stdio: 'inherit',
      });
      assert.equal(tsc.status, 0, 'npm run build failed');
    }
    dataDir = mkdtempSync(join(tmpdir(), 'tether-sigkill-'));
    port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    for (const running of processes) {
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGKILL');
        await running.exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every confirmed approval and every issued token', async (t) => {
    const first = await startBinary(port, dataDir);
    processes.push(first);
    let stop = false;

    /** One device at a time: ask for codes (bound to its key), approve them in the browser, redeem them. */
    async function deviceWorker(): Promise<void> {
      const key = await dpopKey();
      const browser = new FormBrowser(issuer);
      while (!stop) {
        try {
          const authz = await postForm(
            `${issuer}/device_authorization`,
            { client_id: 'tether-cli' },
            { DPoP: await key.proof('POST', `${issuer}/device_authorization`) },
          );
          assert.equal(authz.status, 200, JSON.stringify(authz.body));
          const flow: Flow = {
            key,
            deviceCode: String(authz.body['device_code']),
            userCode: String(authz.body['user_code']),
            approved: false,
          };
          flows.push(flow);
          const page = await browser.decide(flow.userCode, 'approve', 'alice', PASSWORD);
          assert.ok(page.includes('Device approved'), `approval not confirmed: HTTP ${browser.lastStatus}`);
          flow.approved = true;
          const token = await postForm(
            `${issuer}/token`,
            { grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: flow.deviceCode },
            { DPoP: await key.proof('POST', `${issuer}/token`) },
          );
          assert.equal(token.status, 200, JSON.stringify(token.body));
          flow.token = String(token.body['access_token']);
          const claims = decodeJwt(flow.token);
          flow.jti = String(claims.jti);
          flow.sid = String(claims['sid']);
          flow.refreshToken = String(token.body['refresh_token']);
        } catch (error) {
          if (stop) return; // the process was killed under us: expected
          throw error;
        }
      }
    }

    async function noiseWorker(): Promise<void> {
      while (!stop) {
        try {
          await postForm(`${issuer}/token`, { grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: 'x'.repeat(43) });
        } catch {
          if (stop) return;
        }
      }
    }

    const workers = [
      ...Array.from({ length: WORKERS }, () => deviceWorker()),
      ...Array.from({ length: NOISE_WORKERS }, () => noiseWorker()),
    ];
    const failed = Promise.race(workers.map((w) => w.then(() => new Promise<never>(() => {}))));
    const started = Date.now();
    const enoughLoad = (async () => {
      while (Date.now() - started < MAX_LOAD_MS) {
        if (Date.now() - started >= MIN_LOAD_MS && flows.filter((f) => f.jti).length >= MIN_TOKENS) return;
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
      }
    })();
    await Promise.race([enoughLoad, failed]);

    // Mid-load: requests are in flight on every worker.
    stop = true;
    const loadMs = Date.now() - started;
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, null, 'killed by signal');
    await Promise.all(workers);

    const approved = flows.filter((f) => f.approved);
    const tokens = flows.filter((f) => f.jti);
    assert.ok(tokens.length >= 10, `load too light to prove anything: ${tokens.length} tokens`);

    const restarted = await startBinary(port, dataDir);
    processes.push(restarted);
    const db = new Database(join(dataDir, 'tether.sqlite'), { readonly: true, fileMustExist: true });
    let waiting: Flow[] = [];
    try {
      const byUserCode = db.prepare(
        'SELECT d.status, d.grant_id, g.id AS grant FROM device_authorizations d LEFT JOIN grants g ON g.id = d.grant_id WHERE d.user_code = ?',
      );
      // The access token is not stored (its signed sid names its grant); what keeps it good is its grant, and what
      // carries the session on is its refresh token.
      const grantRow = db.prepare('SELECT status FROM grants WHERE id = ?');
      const refreshRow = db.prepare('SELECT grant_id, status FROM refresh_tokens WHERE hash = ?');
      const issuedEvent = db.prepare("SELECT grant_id, user_id FROM audit_events WHERE type = 'token.issued' AND jti = ?");
      const approvedEvent = db.prepare("SELECT count(*) AS n FROM audit_events WHERE type = 'device.approved' AND grant_id = ?");

      for (const flow of flows) {
        const row = byUserCode.get(flow.userCode.replaceAll('-', '')) as { status: string; grant_id: string | null; grant: string | null } | undefined;
        assert.ok(row, `device authorization ${flow.userCode} was confirmed but is gone`);
        if (flow.approved) {
          assert.ok(['approved', 'redeemed'].includes(row.status), `${flow.userCode} approved, now ${row.status}`);
          assert.ok(row.grant_id && row.grant === row.grant_id, `${flow.userCode} lost its grant`);
        }
        if (flow.jti) {
          assert.equal(row.status, 'redeemed');
          assert.equal((grantRow.get(flow.sid) as { status: string } | undefined)?.status, 'active', `the grant of token ${flow.jti} is gone`);
          const refresh = refreshRow.get(hashSecret(flow.refreshToken ?? '')) as { grant_id: string; status: string } | undefined;
          assert.ok(refresh, `the refresh token returned with ${flow.jti} is not recorded`);
          assert.deepEqual(refresh, { grant_id: flow.sid, status: 'active' }, 'recorded under the grant the access token names');
          // Its issuance event committed with it, and descends from an approval that is recorded too.
          const event = issuedEvent.get(flow.jti) as { grant_id: string; user_id: string } | undefined;
          assert.ok(event, `token ${flow.jti} was returned but has no token.issued event`);
          assert.equal(event.grant_id, flow.sid);
          assert.equal((approvedEvent.get(flow.sid) as { n: number }).n, 1, 'the approval behind the token is recorded');
        }
      }

      // Through the new process: the signing key survived, every returned token is still active at introspection
      // (RFC 7662, as a resource server asks), and approved codes can still be redeemed, once.
      const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet;
      for (const flow of tokens) {
        await jwtVerify(flow.token ?? '', createLocalJWKSet(jwks), { issuer, typ: 'at+jwt' });
        const introspected = await postForm(`${issuer}/introspect`, { token: flow.token ?? '' }, { authorization: basic('tether-gateway', GATEWAY_SECRET) });
        assert.equal(introspected.body['active'], true, `token ${flow.jti} was returned but is not active after the restart`);
        assert.equal(introspected.body['jti'], flow.jti);
      }
      waiting = approved.filter((f) => !f.jti && (byUserCode.get(f.userCode.replaceAll('-', '')) as { status: string }).status === 'approved');
      for (const flow of waiting) {
        const reply = await postForm(
          `${issuer}/token`,
          { grant_type: DEVICE_GRANT, client_id: 'tether-cli', device_code: flow.deviceCode },
          { DPoP: await flow.key.proof('POST', `${issuer}/token`) },
        );
        assert.equal(reply.status, 200, `approved ${flow.userCode} not redeemable after restart: ${JSON.stringify(reply.body)}`);
        const jti = decodeJwt(String(reply.body['access_token'])).jti;
        assert.ok(issuedEvent.get(jti), 'the post-restart token is recorded');
      }
    } finally {
      db.close();
    }

    // The audit chain the killed process left behind still verifies, checkpoints included.
    const verify = spawnSync(process.execPath, [join(ROOT, 'bin/tether.js'), 'audit', 'verify', '--data-dir', dataDir], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `audit chain broken after SIGKILL: ${verify.stdout}${verify.stderr}`);
    assert.match(verify.stdout, /Audit chain intact/);

    t.diagnostic(
      `${flows.length} codes, ${approved.length} approvals, ${tokens.length} tokens in ${loadMs} ms before the kill; ` +
        `${waiting.length} approved codes redeemed after the restart`,
    );
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0, 'a clean shutdown after the restart');
  });
});
