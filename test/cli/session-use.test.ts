import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execCommand } from '../../src/cli/commands/exec.js';
import { logoutCommand } from '../../src/cli/commands/logout.js';
import { requestCommand } from '../../src/cli/commands/request.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { FileRefreshLock } from '../../src/cli/auth/refresh-lock.js';
import { ProfileFile } from '../../src/cli/config/profiles.js';
import { ExitCode } from '../../src/cli/io.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { adminRevoke, introspect } from '../support/tokens.js';
import { loginAndDecide, Sandbox } from './harness.js';
import { recordingFetch } from './recording-fetch.js';

/** Pretends the access token is about to expire, so the next use must refresh. */
async function ageAccessToken(box: Sandbox): Promise<void> {
  const run = box.deps();
  const profile = new ProfileFile(run.deps.paths.configFile).select();
  assert.ok(profile);
  const store = await run.deps.secrets.open(profile.secret_store);
  const tokens = await store.readTokens(profile.account);
  assert.ok(tokens);
  await store.writeTokens(profile.account, { ...tokens, accessTokenExpiresAt: run.deps.now() - 5 });
}

/** A child for `tether exec` that calls the API both ways, then writes what it saw (and its environment) to a file. */
const CHILD = `
const fs = require('node:fs');
const http = require('node:http');
(async () => {
  const out = { env: process.env };
  const base = await fetch(process.env.TETHER_API_URL + '/whoami');
  out.base = { status: base.status, body: await base.json() };
  const proxy = new URL(process.env.HTTP_PROXY);
  const auth = Buffer.from(decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password)).toString('base64');
  out.forward = await new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.hostname, port: proxy.port, path: process.env.TETHER_RESOURCE + '/whoami',
      headers: { 'proxy-authorization': 'Basic ' + auth } }, (res) => {
      let data = ''; res.on('data', (c) => (data += c)); res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end();
  });
  out.direct = (await fetch(process.env.TETHER_RESOURCE + '/whoami')).status;
  out.noCapability = (await fetch(process.env.TETHER_API_URL.replace(/\\/[^/]+$/, '/guess') + '/whoami')).status;
  fs.writeFileSync(process.argv[1], JSON.stringify(out));
  process.exit(7);
})();
`;

describe('using a session: request, exec, refresh, logout', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
  });
  after(() => server.close());

  test('tether request calls the guarded API; a URL outside the resource is refused without sending anything', async () => {
    const box = new Sandbox();
    try {
      assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
      const run = box.deps();
      assert.equal(await requestCommand(['GET', `${server.api}/whoami`], run.deps), ExitCode.ok, run.stderr.text);
      const body = JSON.parse(run.stdout.text) as Record<string, unknown>;
      assert.equal(body['sub'], 'alice');
      assert.equal(body['scope'], 'read write');
      assert.equal(body['bound_to_key'], new ProfileFile(run.deps.paths.configFile).select()?.key_thumbprint);

      const recorder = recordingFetch();
      const outside = box.deps({ fetch: recorder.fetch });
      assert.equal(await requestCommand(['GET', `${server.issuer}/jwks`], outside.deps), ExitCode.usage);
      assert.match(outside.stderr.text, /outside .*\/api/);
      assert.equal(recorder.exchanges.length, 0, 'nothing was sent');

      const included = box.deps();
      assert.equal(await requestCommand(['-i', 'GET', `${server.api}/nope`], included.deps), ExitCode.httpError);
      assert.match(included.stdout.text, /^HTTP 404/);
    } finally {
      await box.close();
    }
  });

  test('tether exec: the child calls the API through the proxy (base URL and HTTP_PROXY) and never holds a token', async () => {
    const box = new Sandbox();
    const scratch = mkdtempSync(join(tmpdir(), 'tether-exec-'));
    try {
      const recorder = recordingFetch();
      assert.equal((await loginAndDecide(server, box.deps({ fetch: recorder.fetch }))).code, ExitCode.ok);
      const outFile = join(scratch, 'child.json');
      const run = box.deps();
      const code = await execCommand(['--', process.execPath, '-e', CHILD, outFile], run.deps);
      assert.equal(code, 7, `the child's exit code passes through\n${run.stderr.text}`);
      const seen = JSON.parse(readFileSync(outFile, 'utf8')) as {
        env: Record<string, string>;
        base: { status: number; body: Record<string, unknown> };
        forward: { status: number; body: Record<string, unknown> };
        direct: number;
        noCapability: number;
      };
      assert.equal(seen.base.status, 200);
      assert.equal(seen.base.body['sub'], 'alice');
      assert.equal(seen.forward.status, 200, 'HTTP_PROXY works for an http resource');
      assert.equal(seen.forward.body['sub'], 'alice');
      assert.equal(seen.direct, 401, 'calling the API directly carries no credentials');
      assert.equal(seen.noCapability, 403, 'the proxy refuses callers without the per-run capability');
      const env = JSON.stringify(seen.env);
      for (const secret of recorder.secrets()) assert.ok(!env.includes(secret), 'no token, refresh token or device code in the child');
      assert.ok(!/"d"\s*:|PRIVATE KEY/.test(env), 'no private key in the child');

      const missing = box.deps();
      assert.equal(await execCommand(['--', 'tether-no-such-command-here'], missing.deps), ExitCode.commandNotFound);
    } finally {
      await box.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('an expiring token is refreshed once even by two processes at the same moment; the newest refresh token is kept', async () => {
    const box = new Sandbox();
    try {
      assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
      await ageAccessToken(box);
      // Two separate "processes": their own deps, token sources and nonce caches; only the lock folder is shared.
      const recorders = [recordingFetch(), recordingFetch()];
      const runs = recorders.map((r) => {
        const run = box.deps({ fetch: r.fetch });
        run.deps.lock = new FileRefreshLock(run.deps.paths.runtimeDir);
        return run;
      });
      const codes = await Promise.all(runs.map((run) => requestCommand(['GET', `${server.api}/whoami`], run.deps)));
      assert.deepEqual(codes, [ExitCode.ok, ExitCode.ok], runs.map((r) => r.stderr.text).join('\n'));
      const refreshes = recorders.flatMap((r) => r.paths('/token'));
      assert.equal(refreshes.length, 1, 'exactly one refresh for both');
      assert.equal(refreshes[0]?.status, 200);

      const profile = new ProfileFile(box.deps().deps.paths.configFile).select();
      assert.ok(profile);
      const store = await box.deps().deps.secrets.open('agent');
      const stored = await store.readTokens(profile.account);
      assert.equal(stored?.refreshToken, refreshes[0]?.body['refresh_token'], 'the store holds the newest refresh token');
      assert.equal(profile.access_token_expires_at, stored?.accessTokenExpiresAt, 'the config shows the new expiry');
      // Had the old refresh token been used twice, the server would have revoked the grant.
      assert.equal((await introspect(server, String(stored?.accessToken)))['active'], true);
      const again = box.deps();
      assert.equal(await requestCommand(['GET', `${server.api}/whoami`], again.deps), ExitCode.ok);
    } finally {
      await box.close();
    }
  });

  test('revoked by an admin: status asks the server and says revoked; request and exec exit 12, not "expired"', async () => {
    const box = new Sandbox();
    try {
      assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
      const before = box.deps();
      assert.equal(await statusCommand([], before.deps), ExitCode.ok);
      assert.match(before.stdout.text, /At the server {2}active/);
      assert.ok([200, 201].includes((await adminRevoke(server, { kind: 'user', value: 'alice', reason: 'test' })).status));
      // The access token has minutes left; only the server knows it is dead.
      const status = box.deps();
      assert.equal(await statusCommand([], status.deps), ExitCode.revoked);
      assert.match(status.stdout.text, /At the server {2}(?:\x1b\[31m)?REVOKED(?:\x1b\[0m)? by the server/);
      assert.doesNotMatch(status.stdout.text, /valid for/);
      const run = box.deps();
      assert.equal(await requestCommand(['GET', `${server.api}/whoami`], run.deps), ExitCode.revoked);
      assert.match(run.stderr.text, /the server revoked this session/);
      const exec = box.deps();
      assert.equal(await execCommand(['--', process.execPath, '-e', '0'], exec.deps), ExitCode.revoked);
      assert.match(exec.stderr.text, /the server revoked this session/);
      await ageAccessToken(box);
      const later = box.deps();
      assert.equal(await execCommand(['--', process.execPath, '-e', '0'], later.deps), ExitCode.revoked);
      assert.match(later.stderr.text, /revoked this session/);
    } finally {
      await box.close();
    }
  });

  test('logout revokes at the server and wipes the agent and the config', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      assert.equal((await loginAndDecide(server, box.deps({ fetch: recorder.fetch }))).code, ExitCode.ok);
      const issued = recorder.paths('/token').find((e) => e.status === 200)?.body;
      assert.ok(issued);
      const account = new ProfileFile(box.deps().deps.paths.configFile).select()?.account ?? '';
      const run = box.deps();
      assert.equal(await logoutCommand([], run.deps), ExitCode.ok, run.stderr.text);
      assert.match(run.stderr.text, /revoked at the server; its secrets were wiped from the tether agent/);
      assert.equal((await introspect(server, String(issued['access_token'])))['active'], false);
      assert.equal(existsSync(run.deps.paths.configFile), false);
      const store = await run.deps.secrets.open('agent');
      assert.equal(await store.readTokens(account), undefined);
      assert.equal(await store.loadKey(account), undefined);
      const status = box.deps();
      assert.equal(await statusCommand([], status.deps), ExitCode.notSignedIn);
      assert.match(status.stderr.text, /Not signed in/);
    } finally {
      await box.close();
    }
  });

  test('the agent stopped: status says the secrets are gone, exec refuses (exit 9)', async () => {
    const box = new Sandbox();
    try {
      assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
      await box.agents[0]?.close();
      const status = box.deps({ tty: false });
      assert.equal(await statusCommand([], status.deps), ExitCode.notSignedIn);
      assert.match(status.stdout.text, /Secrets +gone: the tether agent .* no longer holds them/);
      const run = box.deps();
      assert.equal(await execCommand(['--', process.execPath, '-e', '0'], run.deps), ExitCode.notSignedIn);
      assert.match(run.stderr.text, /run tether login/);
    } finally {
      await box.close();
    }
  });

  test('logging in again replaces the session and revokes the one it replaces', async () => {
    const box = new Sandbox();
    try {
      const first = recordingFetch();
      assert.equal((await loginAndDecide(server, box.deps({ fetch: first.fetch }))).code, ExitCode.ok);
      const old = first.paths('/token').find((e) => e.status === 200)?.body;
      assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
      assert.equal((await introspect(server, String(old?.['access_token'])))['active'], false, 'the old grant is revoked');
      const config = new ProfileFile(box.deps().deps.paths.configFile).read();
      assert.equal(config.profiles.length, 1);
      // The new session and this machine's device key (tether device), nothing of the old session.
      assert.equal(box.agents[0]?.heldSessions, 2, 'the agent holds only the new session and the device key');
    } finally {
      await box.close();
    }
  });
});
