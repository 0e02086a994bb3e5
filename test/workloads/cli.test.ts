import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workloadCommand } from '../../src/cli/commands/workload.js';
import { ExitCode } from '../../src/cli/io.js';
import { loginAndDecide, Sandbox } from '../cli/harness.js';
import { dpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { CI_AUDIENCE, exchange, startCiIssuer, type CiIssuer } from './support.js';

/** `tether workload`: the engineer's CLI over the workload API, with their own signed-in session. */
describe('tether workload', () => {
  let ci: CiIssuer;
  let server: TestServer;
  let box: Sandbox;
  const run = async (args: string[]) => {
    const r = box.deps();
    const code = await workloadCommand(args, r.deps);
    return { code, out: r.stdout.text, err: r.stderr.text };
  };

  before(async () => {
    ci = await startCiIssuer();
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 }, federation: { issuers: [{ issuer: ci.issuer, audience: CI_AUDIENCE }] } });
    box = new Sandbox();
    assert.equal((await loginAndDecide(server, box.deps())).code, ExitCode.ok);
  });

  after(async () => {
    await box.close();
    await server.close();
    await ci.close();
  });

  test('create a federated workload, exchange for it, list it with owner, purpose, last use and expiry', async () => {
    const created = await run([
      'create', 'deploy', '--purpose', 'deploys acme/app', '--resource', server.api, '--scope', 'read', '--expires', '30d',
      '--federated', ci.issuer, '--subject', 'repo:acme/app:ref:refs/heads/main', '--claim', 'repository=acme/app', '--claim', 'ref=refs/heads/main',
    ]);
    assert.equal(created.code, ExitCode.ok, created.err);
    assert.match(created.out, /Created workload deploy/);
    assert.equal((await exchange(server, await ci.token(), await dpopKey())).status, 200);
    const listed = await run(['list']);
    assert.equal(listed.code, ExitCode.ok, listed.err);
    assert.match(listed.out, /deploy\s+active\s+owner alice\s+last used \d{4}-\d\d-\d\d \d\d:\d\d\s+expires/);
    assert.match(listed.out, /deploys acme\/app/);
    assert.doesNotMatch(listed.out, /STALE/);
  });

  test('tether exec --workload in GitHub Actions, GitLab and Kubernetes: CMD reaches the API as the workload; nothing on disk', async () => {
    const { createServer } = await import('node:http');
    const { execCommand } = await import('../../src/cli/commands/exec.js');
    const { filesUnder } = await import('../cli/harness.js');
    const requestToken = 'gh-request-token-0123456789';
    const asked: string[] = [];
    const actions = createServer((request, response) => {
      asked.push(request.url ?? '');
      if (request.headers.authorization !== `bearer ${requestToken}`) return void response.writeHead(401).end();
      void ci.token().then((value) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value })));
    });
    await new Promise<void>((resolve) => actions.listen(0, '127.0.0.1', () => resolve()));
    const port = (actions.address() as { port: number }).port;
    const before = filesUnder(box.root).length;
    const script = 'fetch(process.env.TETHER_API_URL + "/whoami").then((r) => r.json()).then((b) => console.log("SUB=" + b.sub))';
    const common = ['--workload', 'deploy', '--issuer', server.issuer, '--resource', server.api];
    try {
      const github = box.deps({ env: { ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?x=1`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken } });
      const code = await execCommand([...common, '--audience', CI_AUDIENCE, '--', process.execPath, '-e', script], github.deps);
      assert.equal(code, 0, github.stderr.text);
      assert.match(github.stdout.text, /SUB=workload:/);
      assert.match(asked[0] ?? '', /audience=https%3A%2F%2Ftether\.test/);

      const gitlab = box.deps({ env: { TETHER_ID_TOKEN: await ci.token() } });
      assert.equal(await execCommand([...common, '--', process.execPath, '-e', script], gitlab.deps), 0, gitlab.stderr.text);
      assert.match(gitlab.stdout.text, /SUB=workload:/);

      const file = join(box.root, 'k8s-token');
      writeFileSync(file, await ci.token());
      const k8s = box.deps();
      assert.equal(await execCommand([...common, '--token-file', file, '--', process.execPath, '-e', script], k8s.deps), 0, k8s.stderr.text);
      assert.match(k8s.stdout.text, /SUB=workload:/);

      // Another branch's job token is refused before CMD runs.
      const feature = box.deps({ env: { TETHER_ID_TOKEN: await ci.token({ ref: 'refs/heads/feature' }) } });
      assert.equal(await execCommand([...common, '--', process.execPath, '-e', script], feature.deps), ExitCode.unauthorized);
      assert.doesNotMatch(feature.stdout.text, /SUB=/);
      assert.equal(filesUnder(box.root).length, before + 1, 'only the test\'s own token file: tether wrote nothing');
    } finally {
      actions.close();
    }
  });

  test('a key-bound workload from a PEM public key; a private key file is refused before anything is sent', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = join(box.root, 'workload.pub.pem');
    const priv = join(box.root, 'workload.key.pem');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const refused = await run(['create', 'nightly', '--purpose', 'report', '--resource', server.api, '--scope', 'read', '--expires', '7d', '--key', priv]);
    assert.equal(refused.code, ExitCode.usage);
    assert.match(refused.err, /private key/);
    const made = await run(['create', 'nightly', '--purpose', 'report', '--resource', server.api, '--scope', 'read', '--expires', '7d', '--key', pub]);
    assert.equal(made.code, ExitCode.ok, made.err);
    const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(pub, next.publicKey.export({ type: 'spki', format: 'pem' }));
    const rotated = await run(['rotate-key', 'nightly', '--key', pub]);
    assert.equal(rotated.code, ExitCode.ok, rotated.err);
    assert.match(rotated.out, /Re-keyed workload nightly/);
  });

  test('suspend, resume, delete; usage errors exit 2', async () => {
    assert.match((await run(['suspend', 'deploy'])).out, /Suspended workload deploy; its tokens are revoked/);
    assert.match((await run(['list'])).out, /deploy\s+suspended/);
    assert.equal((await run(['suspend', 'deploy'])).code, ExitCode.failure);
    assert.match((await run(['resume', 'deploy'])).out, /Resumed/);
    assert.match((await run(['delete', 'nightly'])).out, /Deleted/);
    assert.doesNotMatch((await run(['list'])).out, /nightly/);
    assert.equal((await run(['create', 'x', '--purpose', 'p', '--resource', server.api, '--scope', 'read'])).code, ExitCode.usage, 'no expiry');
    assert.equal((await run(['frobnicate'])).code, ExitCode.usage);
    assert.equal((await run(['suspend', 'nope'])).code, ExitCode.failure);
  });
});
