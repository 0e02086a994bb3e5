import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { loginCommand } from '../../src/cli/commands/login.js';
import { tokenCommand } from '../../src/cli/commands/token.js';
import { workloadCommand } from '../../src/cli/commands/workload.js';
import { ExitCode } from '../../src/cli/io.js';
import { filesUnder, loginAndDecide, PRIVATE_KEY_PATTERNS, Sandbox } from '../cli/harness.js';
import { dpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { ath } from '../support/tokens.js';
import { CI_AUDIENCE, exchange, startCiIssuer, type CiIssuer } from './support.js';

const BIN = join(import.meta.dirname, '../../bin/tether.js');
const run = promisify(execFile);

/**
 * `tether token --workload` (a token on stdout only when asked) and `tether login --workload` in CI (the federated
 * exchange instead of a person's device login), against the in-process server and a stand-in CI issuer.
 */
describe('tether token and tether login with --workload', () => {
  let ci: CiIssuer;
  let server: TestServer;
  let box: Sandbox;
  let common: string[];

  before(async () => {
    ci = await startCiIssuer();
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 }, federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] } });
    box = new Sandbox();
    assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
    const created = await workloadCommand(
      [
        'create', 'deploy', '--purpose', 'deploys acme/app', '--resource', server.api, '--scope', 'read', '--expires', '30d',
        '--federated', ci.issuer, '--subject', 'repo:acme/app:ref:refs/heads/main', '--claim', 'repository=acme/app', '--claim', 'ref=refs/heads/main',
      ],
      box.deps().deps,
    );
    assert.equal(created, ExitCode.ok);
    common = ['--workload', 'deploy', '--issuer', server.issuer, '--resource', server.api];
  });

  after(async () => {
    await box.close();
    await server.close();
    await ci.close();
  });

  /** Whether the CI token was already spent at the server (its jti is single-use): proves an exchange happened. */
  const spent = async (ciToken: string) => (await exchange(server, ciToken, await dpopKey())).status !== 200;

  test('without --print nothing is exchanged and nothing printed (exit 2); without --workload, no token at all', async () => {
    const ciToken = await ci.token();
    const r = box.deps({ env: { CI: 'true', TETHER_ID_TOKEN: ciToken } });
    assert.equal(await tokenCommand(common, r.deps), ExitCode.usage);
    assert.equal(r.stdout.text.includes('eyJ'), false, 'no token on stdout');
    assert.match(r.stderr.text, /--print/);
    assert.equal(await spent(ciToken), false, 'the CI token was not exchanged');

    // A person's session exists in this sandbox: tether token never prints it.
    const person = box.deps();
    assert.equal(await tokenCommand(['--print'], person.deps), ExitCode.usage);
    assert.doesNotMatch(person.stdout.text, /eyJ/);
    assert.match(person.stderr.text, /--workload/);
  });

  test('--print on the real binary: one DPoP-bound workload token on stdout, a warning on stderr, no key, nothing on disk', async () => {
    const home = join(box.root, 'ci-home');
    mkdirSync(home);
    const cwd = mkdtempSync(join(tmpdir(), 'tether-token-cwd-'));
    try {
      const env = { PATH: process.env['PATH'] ?? '', HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), CI: 'true', TETHER_ID_TOKEN: await ci.token() };
      const { stdout, stderr } = await run(process.execPath, [BIN, "token", ...common, "--print"], { env, cwd }).catch((e: { stderr?: string; code?: number }) => {
        throw new Error(`tether token failed (${e.code}): ${e.stderr}`);
      });
      const token = stdout.trim();
      assert.equal(stdout.split('\n').filter(Boolean).length, 1, 'exactly the token on stdout');
      const claims = decodeJwt(token);
      assert.match(String(claims.sub), /^workload:/);
      assert.equal(typeof (claims['cnf'] as { jkt?: unknown }).jkt, 'string', 'DPoP-bound');
      assert.ok((claims.exp ?? 0) - (claims.iat ?? 0) <= 300, 'the short workload lifetime');
      assert.match(stderr, /useless without its proof key/);
      assert.doesNotMatch(stderr, new RegExp(token.split('.')[2]!), 'the token is not on stderr');
      for (const pattern of PRIVATE_KEY_PATTERNS) assert.doesNotMatch(stdout + stderr, pattern);
      assert.deepEqual(filesUnder(home), [], 'nothing under HOME');
      assert.deepEqual(filesUnder(cwd), [], 'nothing in the working directory');

      // Play the attack: the printed token, stolen, is refused as Bearer and with a proof by another key.
      const url = `${server.api}/whoami`;
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 401);
      const thief = await dpopKey();
      const proof = await thief.proof('GET', url, { ath: await ath(token) });
      assert.equal((await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status, 401);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test('a refused exchange exits 5 and prints nothing; no CI token exits 9', async () => {
    const other = box.deps({ env: { CI: 'true', TETHER_ID_TOKEN: await ci.token({ repository: 'evil/fork', sub: 'repo:evil/fork:ref:refs/heads/main' }) } });
    assert.equal(await tokenCommand([...common, '--print'], other.deps), ExitCode.unauthorized);
    assert.equal(other.stdout.text, '');
    const none = box.deps({ env: { CI: 'true' } });
    assert.equal(await tokenCommand([...common, '--print'], none.deps), ExitCode.notSignedIn);
    assert.equal(none.stdout.text, '');
  });

  test('tether login in CI with --workload or TETHER_WORKLOAD: the federated exchange, no device code, nothing saved', async () => {
    for (const how of ['flag', 'env'] as const) {
      const before = filesUnder(box.root).sort();
      const ciToken = await ci.token();
      const env = { GITHUB_ACTIONS: 'true', TETHER_ID_TOKEN: ciToken, ...(how === 'env' ? { TETHER_WORKLOAD: 'deploy' } : {}) };
      const r = box.deps({ env });
      const args = how === 'flag' ? common : common.slice(2);
      const code = await loginCommand(args, r.deps);
      assert.equal(code, ExitCode.ok, r.stderr.text);
      assert.match(r.stderr.text, /Workload deploy can sign in here \(GitHub Actions\)/);
      assert.match(r.stderr.text, /tether exec --workload deploy/);
      assert.doesNotMatch(r.stderr.text, /one-time code/i);
      assert.doesNotMatch(r.stdout.text + r.stderr.text, /eyJ/, 'no token printed');
      assert.equal(await spent(ciToken), true, 'the CI token went through the exchange');
      assert.deepEqual(filesUnder(box.root).sort(), before, 'no profile, no secret, nothing written');
    }
  });

  test('tether login in CI without a workload is refused and names --workload; --workload at a terminal is a usage error', async () => {
    const r = box.deps({ env: { CI: 'true' } });
    assert.equal(await loginCommand(['--issuer', server.issuer], r.deps), ExitCode.refused);
    assert.match(r.stderr.text, /tether login --workload NAME/);
    assert.match(r.stderr.text, /tether exec --workload NAME/);

    const person = box.deps({ env: { TETHER_ID_TOKEN: await ci.token() } });
    assert.equal(await loginCommand(common, person.deps), ExitCode.usage);
    assert.match(person.stderr.text, /--workload is for CI/);
  });
});
