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
