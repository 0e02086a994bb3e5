import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { DEVICE_KEY_ACCOUNT } from '../../src/cli/auth/device-key.js';
import { loginCommand } from '../../src/cli/commands/login.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { ExitCode } from '../../src/cli/io.js';
import { ProfileFile } from '../../src/cli/config/profiles.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { loginAndDecide, mapKeyring, Sandbox, waitFor } from './harness.js';
import { recordingFetch } from './recording-fetch.js';
import { FormBrowser } from '../support/browser-form.js';

/**
 * `tether login` against a real in-process server, with the person's part played by the HTML forms. Each test
 * uses a throwaway HOME and runtime folder.
 */
describe('tether login', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
  });
  after(() => server.close());

  test('approved: binds a new key from the first request, keeps secrets in the agent, status shows no token', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch });
      const { code, userCode } = await loginAndDecide(server, run);
      assert.equal(code, ExitCode.ok, run.stderr.text);

      // The person was shown the code and where to enter it; the device code itself never appears.
      assert.match(run.stderr.text, new RegExp(`one-time code: ${userCode}`));
      assert.match(run.stderr.text, new RegExp(`open ${server.issuer}/device in a browser`));
      assert.match(run.stderr.text, new RegExp(`Signed in to ${server.issuer} as alice`));
      assert.match(run.stderr.text, /in the memory of the tether agent/);

      const [authorization] = recorder.paths('/device_authorization');
      assert.ok(authorization?.dpopJkt, 'the device authorization request carried a DPoP proof');
      const tokenCalls = recorder.paths('/token');
      assert.ok(tokenCalls.every((e) => e.dpopJkt === authorization.dpopJkt), 'every poll proves the same key');
      const issued = tokenCalls.find((e) => e.status === 200);
      assert.ok(issued);
      const claims = decodeJwt(String(issued.body['access_token']));
      assert.equal((claims['cnf'] as { jkt: string }).jkt, authorization.dpopJkt, 'the token is bound to the login key');

      const profile = new ProfileFile(run.deps.paths.configFile).select();
      assert.ok(profile);
      assert.equal(profile.key_thumbprint, authorization.dpopJkt);
      assert.equal(profile.secret_store, 'agent');
      assert.equal(profile.resource, server.api);
      assert.deepEqual(profile.scopes, ['read', 'write']);
      assert.equal(statSync(run.deps.paths.configFile).mode & 0o777, 0o600);

      const status = box.deps();
      assert.equal(await statusCommand([], status.deps), ExitCode.ok);
      const shown = status.stdout.text;
      for (const expected of ['alice', server.issuer, server.api, 'read write', authorization.dpopJkt, 'tether agent', 'valid for']) {
        assert.ok(shown.includes(expected), `status shows ${expected}:\n${shown}`);
      }
      for (const secret of recorder.secrets()) {
        assert.ok(!shown.includes(secret) && !run.stderr.text.includes(secret) && !run.stdout.text.includes(secret), 'no secret printed');
      }
    } finally {
      await box.close();
    }
  });

  test('denied in the browser: exit code 6, nothing saved, the agent holds nothing', async () => {
    const box = new Sandbox();
    try {
      const run = box.deps();
      const { code } = await loginAndDecide(server, run, 'deny');
      assert.equal(code, ExitCode.denied);
      assert.match(run.stderr.text, /denied in the browser\. Nothing was saved/);
      assert.equal(existsSync(run.deps.paths.configFile), false);
      // The key made for the login was dropped too: only the machine's device key stays (tether device).
      assert.equal(box.agents.length, 1, 'the agent was started for the login');
      assert.equal(box.agents[0]?.heldSessions, 1, 'and holds nothing now but the device key');
      const { store } = await run.deps.secrets.choose();
      assert.ok(await store.loadKey(DEVICE_KEY_ACCOUNT), 'the one thing held is the device key');
    } finally {
      await box.close();
    }
  });

  test('code expires before approval: exit code 7 and a clear message', async () => {
    const short = await startServer({ device_flow: { code_ttl: '2s', interval: 1 } });
    const box = new Sandbox();
    try {
      const run = box.deps();
      const { code } = await loginAndDecide(short, run, 'none', ['--issuer', short.issuer]);
      assert.equal(code, ExitCode.expired);
      assert.match(run.stderr.text, /The code expired before it was approved/);
      assert.equal(existsSync(run.deps.paths.configFile), false);
    } finally {
      await box.close();
      await short.close();
    }
  });

  test('in CI: the server\'s policy refuses before any code exists; says why and what to use instead (exit 8)', async () => {
    const box = new Sandbox(undefined, { CI: 'true', GITHUB_ACTIONS: 'true' });
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch, tty: true });
      assert.equal(await loginCommand(['--issuer', server.issuer], run.deps), ExitCode.refused);
      assert.equal(recorder.paths('/device_authorization').length, 1, 'one request, declaring automation');
      assert.equal(recorder.paths('/token').length, 0, 'no code to poll');
      assert.ok(!/one-time code/.test(run.stderr.text), 'no code was shown');
      assert.match(run.stderr.text, /nobody seems to be at the keyboard/);
      assert.match(run.stderr.text, /GitHub Actions \(GITHUB_ACTIONS is set\)/);
      assert.match(run.stderr.text, /confidential client/);
      assert.match(run.stderr.text, /policy refused a device login from an unattended \(automation\) environment/);
      assert.match(run.stderr.text, /automation must use its own workload identity/);
    } finally {
      await box.close();
    }
  });

  test('without any terminal: refused too (exit 8)', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch, tty: false });
      run.deps.tty = { stdin: false, stdout: false, stderr: false };
      assert.equal(await loginCommand(['--issuer', server.issuer], run.deps), ExitCode.refused);
      assert.match(run.stderr.text, /no terminal is attached/);
      assert.ok(!/one-time code/.test(run.stderr.text), 'no code was shown');
    } finally {
      await box.close();
    }
  });

  test('in CI where the server\'s policy allows it: runs the flow, plain output without QR or spinner', async () => {
    const box = new Sandbox(undefined, { CI: 'true' });
    // A server whose policies permit everything: no rule against automation.
    const dir = mkdtempSync(join(tmpdir(), 'tether-policies-'));
    writeFileSync(join(dir, 'baseline.cedar'), '@id("baseline")\npermit (principal, action, resource);\n');
    const permissive = await startServer({ device_flow: { code_ttl: '5m', interval: 1 }, policy: { path: dir } });
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch });
      const { code } = await loginAndDecide(permissive, run);
      assert.equal(code, ExitCode.ok, run.stderr.text);
      assert.match(run.stderr.text, /policy allows unattended device logins/);
      assert.ok(!run.stderr.text.includes('\x1b['), 'no terminal escapes in a log');
      assert.ok(!run.stderr.text.includes('Press Enter'), 'no prompt nobody can answer');
      assert.match(run.stderr.text, /Or open .*user_code=/);
    } finally {
      await box.close();
      await permissive.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('on a terminal: QR code, Enter opens verification_uri_complete, raw mode restored', async () => {
    const box = new Sandbox();
    try {
      const run = box.deps({ tty: true });
      const pending = loginAndDecide(server, run, 'none');
      await waitFor(() => run.stderr.text, /Press .*Enter/);
      assert.match(run.stderr.text, /scan this code/);
      assert.match(run.stderr.text, /[▀▄█]{7}/, 'a QR code is drawn');
      assert.equal(run.stdin.rawMode, true, 'keys are read raw while waiting');
      run.stdin.write('\r');
      await waitFor(() => run.opened.join(), /user_code=/);
      const userCode = /one-time code: \x1b\[1m([A-Z-]+)/.exec(run.stderr.text)?.[1] ?? '';
      assert.deepEqual(run.opened, [`${server.issuer}/device?user_code=${userCode}`]);
      const { FormBrowser } = await import('../support/browser-form.js');
      await new FormBrowser(server.issuer).decide(userCode, 'approve');
      run.release();
      assert.equal((await pending).code, ExitCode.ok);
      assert.equal(run.stdin.rawMode, false, 'the terminal is restored');
    } finally {
      await box.close();
    }
  });

  test('Ctrl-C while waiting: exit 130, nothing saved, the code is withdrawn and can no longer be approved', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ tty: true, fetch: recorder.fetch });
      const pending = loginAndDecide(server, run, 'none');
      await waitFor(() => run.stderr.text, /Press .*Enter/);
      run.stdin.write('\x03');
      const { code, userCode } = await pending;
      assert.equal(code, ExitCode.interrupted);
      assert.match(run.stderr.text, /Login cancelled; the code was withdrawn at the server/);
      assert.equal(existsSync(run.deps.paths.configFile), false);
      // Proven with the login's own key, the one its device code is bound to.
      const [authorization] = recorder.paths('/device_authorization');
      const [abandoned] = recorder.paths('/device_authorization/abandon');
      assert.ok(abandoned?.dpopJkt && abandoned.dpopJkt === authorization?.dpopJkt, 'abandoned with the login key');
      // Whoever opens the link now (the person, or someone who read it over their shoulder) cannot approve it.
      const page = await new FormBrowser(server.issuer).decide(userCode, 'approve');
      assert.match(page, /This request was cancelled/);
    } finally {
      await box.close();
    }
  });

  test('the CLI names itself: the review page shows tether/<version> (<os>; node <version>) as the device software', async () => {
    const box = new Sandbox();
    try {
      const run = box.deps();
      const pending = loginAndDecide(server, run, 'none');
      const userCode = (await waitFor(() => run.stderr.text, /one-time code: ([A-Z]{4}-[A-Z]{4}-[A-Z]{4})/))[1] as string;
      const browser = new FormBrowser(server.issuer);
      await browser.get('/device');
      await browser.post('/device', { user_code: userCode });
      const page = await browser.post('/device/sign-in', { username: 'alice', password: TEST_PASSWORD });
      const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
      const shown = /<code class="ua">([^<]*)<\/code>/.exec(page)?.[1];
      assert.match(shown ?? '', new RegExp(`^tether/${version.replace(/\./g, '\\.')} \\([a-z0-9]+ [^;]+; node ${process.versions.node.replace(/\./g, '\\.')}\\)$`));
      await browser.post('/device/decision', { decision: 'deny' });
      run.release();
      assert.equal((await pending).code, ExitCode.denied);
    } finally {
      await box.close();
    }
  });

  test('a server silent for more than 10 s while waiting: the wait says so, keeps trying, and says when it is back', async () => {
    const box = new Sandbox();
    try {
      let failing = 4;
      const flaky: typeof fetch = async (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (new URL(url).pathname === '/token' && failing > 0) {
          failing--;
          throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
        }
        return fetch(input, init);
      };
      const run = box.deps({ fetch: flaky });
      // A clock that moves by each wait, so the back-off's 15 s of silence pass at once.
      let now = run.deps.now();
      let approved!: () => void;
      const approval = new Promise<void>((resolve) => (approved = resolve));
      run.deps.now = () => Math.floor(now);
      run.deps.sleep = async (ms) => {
        now += ms / 1000;
        if (failing === 0) await approval;
        else await new Promise((resolve) => setTimeout(resolve, 5));
      };
      const pending = loginCommand(['--issuer', server.issuer], run.deps);
      const userCode = (await waitFor(() => run.stderr.text, /one-time code: ([A-Z]{4}-[A-Z]{4}-[A-Z]{4})/))[1] as string;
      await waitFor(() => run.stderr.text, /Cannot reach http:\/\/127\.0\.0\.1:\d+ for 1\ds; still trying/);
      assert.match(await new FormBrowser(server.issuer).decide(userCode, 'approve'), /Device approved/);
      approved();
      assert.equal(await pending, ExitCode.ok, run.stderr.text);
      assert.match(run.stderr.text, /Reached http:\/\/127\.0\.0\.1:\d+ again/);
    } finally {
      await box.close();
    }
  });

  test('a server that demands DPoP nonces: the login retries with the nonce and succeeds', async () => {
    const strict = await startServer({ device_flow: { code_ttl: '5m', interval: 1 }, dpop: { require_nonce: true } });
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch });
      const { code } = await loginAndDecide(strict, run, 'approve', ['--issuer', strict.issuer]);
      assert.equal(code, ExitCode.ok, run.stderr.text);
      assert.ok(recorder.paths('/token').some((e) => e.body['error'] === 'use_dpop_nonce'), 'the server did ask for a nonce');
    } finally {
      await box.close();
      await strict.close();
    }
  });

  test('with a working OS keychain: the secrets go there, in one entry, and status says so', async () => {
    const keychain = mapKeyring();
    const box = new Sandbox(keychain);
    try {
      const run = box.deps();
      const { code } = await loginAndDecide(server, run);
      assert.equal(code, ExitCode.ok, run.stderr.text);
      assert.match(run.stderr.text, /in the OS keychain \(test keychain\)/);
      assert.equal(box.agents.length, 0, 'no agent was needed');
      const profile = new ProfileFile(run.deps.paths.configFile).select();
      assert.equal(profile?.secret_store, 'keyring');
      const entry = JSON.parse(keychain.entries.get(`tether/${profile?.account}`) ?? '{}') as { key?: { d?: string }; tokens?: { refreshToken?: string } };
      assert.ok(entry.key?.d && entry.tokens?.refreshToken?.startsWith('tether_rt_'));
      const status = box.deps();
      assert.equal(await statusCommand([], status.deps), ExitCode.ok);
      assert.match(status.stdout.text, /held by the OS keychain \(test keychain\)/);
    } finally {
      await box.close();
    }
  });

  test('a keychain that never answers: falls back to the agent within about a second', async () => {
    const hanging = { name: 'Secret Service', get: () => new Promise<never>(() => {}), set: () => new Promise<never>(() => {}), delete: () => new Promise<never>(() => {}) };
    const box = new Sandbox(hanging);
    try {
      const run = box.deps({ keyringTimeoutMs: 300 });
      const started = Date.now();
      const pending = loginAndDecide(server, run);
      await waitFor(() => run.stderr.text, /one-time code/);
      assert.ok(Date.now() - started < 3000, 'the code shows promptly despite the hung keychain');
      const { code } = await pending;
      assert.equal(code, ExitCode.ok, run.stderr.text);
      assert.match(run.stderr.text, /no OS keychain answered \(Secret Service timed out\)/);
      assert.equal(new ProfileFile(run.deps.paths.configFile).select()?.secret_store, 'agent');
    } finally {
      await box.close();
    }
  });

  test('TETHER_SECRET_STORE=keyring with no keychain fails clearly (exit 10) instead of falling back', async () => {
    const box = new Sandbox(undefined, { TETHER_SECRET_STORE: 'keyring' });
    try {
      const run = box.deps({ tty: true });
      assert.equal(await loginCommand(['--issuer', server.issuer], run.deps), ExitCode.secretStore);
      assert.match(run.stderr.text, /keychain failed/);
    } finally {
      await box.close();
    }
  });

  test('an unreachable server: exit code 4', async () => {
    const box = new Sandbox();
    try {
      const run = box.deps({ tty: true });
      assert.equal(await loginCommand(['--issuer', 'http://127.0.0.1:9'], run.deps), ExitCode.network);
      assert.match(run.stderr.text, /cannot reach http:\/\/127\.0\.0\.1:9/);
    } finally {
      await box.close();
    }
  });

  test('an http issuer off loopback is refused before any request', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ tty: true, fetch: recorder.fetch });
      assert.notEqual(await loginCommand(['--issuer', 'http://auth.example.com'], run.deps), ExitCode.ok);
      assert.match(run.stderr.text, /must use https/);
      assert.equal(recorder.exchanges.length, 0);
    } finally {
      await box.close();
    }
  });

  test('the user code is printed; the device code never is', async () => {
    const box = new Sandbox();
    try {
      const recorder = recordingFetch();
      const run = box.deps({ fetch: recorder.fetch, tty: true });
      await loginAndDecide(server, run);
      const deviceCode = String(recorder.paths('/device_authorization')[0]?.body['device_code']);
      assert.ok(deviceCode.length > 20);
      assert.ok(!run.stderr.text.includes(deviceCode) && !run.stdout.text.includes(deviceCode));
      assert.ok(!readFileSync(run.deps.paths.configFile, 'utf8').includes(deviceCode));
    } finally {
      await box.close();
    }
  });
});
