/**
 * Device identity in the CLI (issue 12, point 1), with the real commands against a real server: `tether device
 * enroll`, an administrator's `tether admin devices approve`, then `tether login` for a high-tier API under the
 * default pack succeeds with `device_class: managed`. The device key never lands in a file under HOME; a HOME copied
 * to another machine (without its keychain) makes a new, unmanaged key; revoking the trust refuses the next refresh.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { DEVICE_KEY_ACCOUNT } from '../../src/cli/auth/device-key.js';
import { adminCommand } from '../../src/cli/commands/admin.js';
import { approveLine, deviceCommand } from '../../src/cli/commands/device.js';
import { requestCommand } from '../../src/cli/commands/request.js';
import { ProfileFile } from '../../src/cli/config/profiles.js';
import { ExitCode } from '../../src/cli/io.js';
import { SqlAuditLog } from '../../src/storage/audit-log.js';
import { ADMIN_KEY, startServer, type TestServer } from '../support/in-process.js';
import { findSecrets, loginAndDecide, mapKeyring, readAll, Sandbox } from './harness.js';

async function admin(server: TestServer, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (c: Buffer, _e, done) => (add(c.toString()), done()) });
  const io = { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), stdin: process.stdin, env: { TETHER_ADMIN_KEY: ADMIN_KEY } };
  // The issuer goes right after the subcommand: the thumbprint comes last, after `--` (it may start with '-').
  const code = await adminCommand([...args.slice(0, 2), '--issuer', server.issuer, ...args.slice(2)], io);
  return { code, out, err };
}

describe('tether device: one key per machine, enrolled, vouching for every login', () => {
  let server: TestServer;

  // The test API is high-tier: under the default pack only a managed device may log in for it.
  before(async () => {
    server = await startServer({ api_tier: 'high' });
  });
  after(() => server.close());

  test('enroll, approve, login: the token says managed; nothing under HOME holds the device key', async () => {
    const keyring = mapKeyring();
    const box = new Sandbox(keyring);
    try {
      // Before enrolling, a login for the high-tier API is refused by the default pack.
      const refused = box.deps();
      const first = await (await import('../../src/cli/commands/login.js')).loginCommand(['--issuer', server.issuer], refused.deps);
      assert.equal(first, ExitCode.unauthorized, refused.stderr.text);
      assert.match(refused.stderr.text, /This API needs a managed device/);
      const judged = /This machine's device key is ([A-Za-z0-9_-]{43}) \(made just now\)/.exec(refused.stderr.text)?.[1];
      assert.ok(judged, refused.stderr.text);
      assert.match(refused.stderr.text, /tether device enroll/);

      const enrolling = box.deps();
      assert.equal(await deviceCommand(['enroll', '--issuer', server.issuer, '--name', 'alice-laptop'], enrolling.deps), 0, enrolling.stderr.text);
      const jkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(enrolling.stdout.text)?.[1];
      assert.ok(jkt, enrolling.stdout.text);
      assert.match(enrolling.stdout.text, /pending: an administrator approves it with\s+tether admin devices approve/);
      const pending = box.deps();
      assert.equal(await deviceCommand(['status', '--issuer', server.issuer], pending.deps), 0);
      assert.match(pending.stdout.text, new RegExp(`Device key  ${jkt}\\n`), 'the same key: made once, kept in the keychain');
      assert.match(pending.stdout.text, /Trust {7}pending/);
      assert.equal(jkt, judged, 'the key the refused login was judged by is the one enrolled');

      const approved = await admin(server, ['devices', 'approve', '--class', 'managed', '--', jkt]);
      assert.equal(approved.code, 0, approved.err);
      const status = box.deps();
      assert.equal(await deviceCommand(['status', '--issuer', server.issuer], status.deps), 0);
      assert.match(status.stdout.text, /Trust {7}approved as managed/);

      const run = box.deps();
      const { code } = await loginAndDecide(server, run);
      assert.equal(code, 0, run.stderr.text);
      assert.match(run.stderr.text, new RegExp(`Device    managed, vouched for by this machine's device key ${jkt}`));
      const profile = new ProfileFile(run.deps.paths.configFile).select();
      assert.ok(profile);
      const { store } = await run.deps.secrets.choose();
      const tokens = await store.readTokens(profile.account);
      const claims = decodeJwt(tokens?.accessToken ?? '');
      assert.equal(claims['device_class'], 'managed');
      assert.equal(claims['device_jkt'], jkt);
      assert.notEqual((claims['cnf'] as { jkt: string }).jkt, jkt, 'the login key is fresh; the device key only vouches');

      // The device key's private half is in the keychain only: no file under HOME has it, nor any private key.
      const entry = JSON.parse(keyring.entries.get(`tether/${DEVICE_KEY_ACCOUNT}`) ?? '{}') as { key?: { d?: string } };
      assert.ok(entry.key?.d, 'the keychain holds the device key');
      const findings = findSecrets(readAll([box.home]), [entry.key.d]);
      assert.deepEqual(findings, [], 'nothing under HOME holds the device key');
    } finally {
      await box.close();
    }
  });

  test('the approve line a device prints works for a thumbprint that starts with a dash', async () => {
    const key = `-${'A'.repeat(42)}`;
    assert.equal(approveLine(key, 'managed'), `tether admin devices approve --class managed -- ${key}`);
    // As printed, the admin command takes it (404: no such device, rather than a usage error).
    const words = approveLine(key, 'managed').split(' ').slice(2);
    const { code, err } = await admin(server, words);
    assert.equal(code, ExitCode.failure, err);
    assert.match(err, /No device with this key/);
  });

  test('the agent holds the device key when there is no keychain; HOME has no trace of it', async () => {
    const box = new Sandbox();
    try {
      const run = box.deps();
      assert.equal(await deviceCommand(['enroll', '--issuer', server.issuer], run.deps), 0, run.stderr.text);
      assert.match(run.stdout.text, /in the tether agent/);
      const jkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(run.stdout.text)?.[1] as string;
      assert.equal((await admin(server, ['devices', 'approve', '--class', 'managed', '--', jkt])).code, 0);
      const login = box.deps();
      assert.equal((await loginAndDecide(server, login)).code, 0, login.stderr.text);
      assert.deepEqual(findSecrets(readAll([box.home]), []), []);
    } finally {
      await box.close();
    }
  });

  test("a copied HOME is another machine: a new device key, unmanaged, refused for the high-tier API; revoking the original's trust refuses its refresh", async () => {
    const keyring = mapKeyring();
    const box = new Sandbox(keyring);
    const copy = new Sandbox(mapKeyring());
    try {
      const enrolling = box.deps();
      assert.equal(await deviceCommand(['enroll', '--issuer', server.issuer], enrolling.deps), 0, enrolling.stderr.text);
      const jkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(enrolling.stdout.text)?.[1] as string;
      assert.equal((await admin(server, ['devices', 'approve', '--class', 'managed', '--', jkt])).code, 0);
      const run = box.deps();
      assert.equal((await loginAndDecide(server, run)).code, 0, run.stderr.text);

      // Every file the CLI wrote, copied to a machine with its own (empty) keychain.
      cpSync(box.home, copy.home, { recursive: true });
      const there = copy.deps();
      assert.equal(await deviceCommand(['status', '--issuer', server.issuer], there.deps), 0, there.stderr.text);
      const copiedJkt = /Device key {2}([A-Za-z0-9_-]{43})/.exec(there.stdout.text)?.[1];
      assert.ok(copiedJkt && copiedJkt !== jkt, 'the copy has a key of its own');
      assert.match(there.stdout.text, /new: this machine had none/);
      assert.match(there.stdout.text, /not enrolled/);
      const loginThere = copy.deps();
      const code = await (await import('../../src/cli/commands/login.js')).loginCommand(['--issuer', server.issuer], loginThere.deps);
      assert.equal(code, ExitCode.unauthorized, loginThere.stderr.text);
      assert.match(loginThere.stderr.text, /This API needs a managed device/);
      // Nor does the copied session work there: its keys stayed in the first machine's keychain.
      const copiedRequest = copy.deps();
      assert.notEqual(await requestCommand(['GET', `${server.api}/whoami`], copiedRequest.deps), 0);

      // The original machine works until its trust is revoked; then its next refresh is refused by policy.
      const before = box.deps();
      assert.equal(await requestCommand(['GET', `${server.api}/whoami`], before.deps), 0, before.stderr.text);
      const revoked = await admin(server, ['devices', 'revoke', '--reason', 'laptop lost', '--', jkt]);
      assert.equal(revoked.code, 0, revoked.err);
      // At once, with the access token still fresh: the API (the dev server's guarded demo API) refuses it, and the
      // refresh that follows is refused by policy.
      const atOnce = box.deps();
      assert.equal(await requestCommand(['GET', `${server.api}/whoami`], atOnce.deps), ExitCode.notSignedIn, atOnce.stderr.text);
      assert.match(atOnce.stderr.text, /This API needs a managed device/);
      // An hour later by the CLI's clock, the access token is stale: the request must refresh first.
      const later = box.deps();
      const refreshing = { ...later.deps, now: () => Math.floor(Date.now() / 1000) + 3600 };
      const refused = await requestCommand(['GET', `${server.api}/whoami`], refreshing);
      assert.equal(refused, ExitCode.notSignedIn, later.stderr.text);
      assert.match(later.stderr.text, /refused to refresh this session: This API needs a managed device/);
      const denials = (await new SqlAuditLog(server.tether.db).query({ type: 'policy.denied' })).filter((e) => e.data['step'] === 'refresh');
      assert.ok(denials.some((e) => e.data['device_class'] === 'unmanaged'), 'the refresh was refused as from an unmanaged device');
    } finally {
      await box.close();
      await copy.close();
    }
  });
});
