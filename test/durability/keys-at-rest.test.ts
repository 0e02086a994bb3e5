// Key material at rest (issue 10, point 5): the data dir is private to the server's user whatever it was before,
// private signing keys are sealed with a key-encryption key (KEK), plaintext keys from older data dirs are sealed
// on first open, and a server without a KEK (outside dev) or with the wrong one refuses to start. Runs the binary.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { openSqliteHandle } from '../../src/storage/sqlite.js';
import { SqlSigningKeyStore } from '../../src/storage/signing-keys.js';
import { freePort } from '../support/ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/tether.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tether serve …` until it listens (then SIGTERM) or exits by itself. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Run & { issuer?: string; jwks?: { keys: { kid: string }[] }; metrics?: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', String(port)], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', TETHER_DEV_PASSWORD: 'correct horse battery staple', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const issuer = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  let listening = false;
  let done = false;
  void exited.then(() => (done = true));
  while (!done && Date.now() < deadline) {
    if (stdout.includes('tether listening')) {
      listening = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!listening) {
    if (!done) child.kill('SIGKILL');
    return { code: await exited, stdout, stderr };
  }
  const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  const metrics = (await fetch(`${issuer}/metrics`)).status;
  child.kill('SIGTERM');
  return { code: await exited, stdout, stderr, issuer, jwks, metrics };
}

describe('key material at rest', () => {
  let scratch: string;

  before(() => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
      assert.equal(tsc.status, 0, 'npm run build failed');
    }
    scratch = mkdtempSync(join(tmpdir(), 'tether-keys-at-rest-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('an old dev data dir, world-readable with a plaintext key: sealed, private, and the same key keeps signing', async () => {
    const dataDir = join(scratch, 'dev');
    // What an older version left: a database with the private key in the clear, under a loose umask.
    const handle = await openSqliteHandle({ dataDir, synchronous: 'normal' });
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pub = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(pub);
    const priv = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
    await new SqlSigningKeyStore(handle.db).insertSigningKey({
      kid,
      alg: 'ES256',
      privateJwk: JSON.stringify(priv),
      publicJwk: JSON.stringify({ ...pub, kid, alg: 'ES256', use: 'sig' }),
      createdAt: Math.floor(Date.now() / 1000) - 60,
      activatesAt: null,
      retiredAt: null,
    });
    await handle.db.destroy();
    writeFileSync(join(dataDir, 'notes.txt'), 'left by someone\n', { mode: 0o644 });
    chmodSync(dataDir, 0o755);
    for (const name of readdirSync(dataDir)) chmodSync(join(dataDir, name), 0o644);

    const run = await serve(['--dev', '--data-dir', dataDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.jwks?.keys.map((k) => k.kid), [kid], 'the existing key is still the one published');
    // The dev tenant made its KEK inside the data dir, and says so loudly, in the banner and in the log.
    assert.match(run.stderr, /KEK: .*dev-kek .*WARNING: generated inside the data dir/);
    assert.match(run.stdout, /RISK: the key-encryption key is inside the data dir/);
    assert.match(run.stdout, /plaintext signing keys found in the data dir were sealed/);
    // Dev answers /metrics to loopback without a token.
    assert.equal(run.metrics, 200);

    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    for (const name of readdirSync(dataDir)) assert.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, name);
    const db = new Database(join(dataDir, 'tether.sqlite'), { readonly: true });
    const row = db.prepare('select private_jwk from signing_keys where kid = ?').get(kid) as { private_jwk: string };
    db.close();
    assert.match(row.private_jwk, /^tether-kek-v1\./);
    // Not in the row, and not lingering anywhere in the data dir's files either.
    for (const name of readdirSync(dataDir)) {
      assert.ok(!readFileSync(join(dataDir, name)).includes(String(priv.d)), `the private key is in ${name} in the clear`);
    }

    // The same data dir with a different KEK does not open: exit 3 with what is wrong, no stack trace.
    const wrong = await serve(['--dev', '--data-dir', dataDir], { TETHER_KEK: Buffer.alloc(32, 7).toString('base64url') });
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /key-encryption key does not open signing key/);
    assert.doesNotMatch(wrong.stderr, /\n\s+at /);
  });

  test('outside dev, no KEK means no start; a KEK file outside the data dir starts it without a warning', async () => {
    const dataDir = join(scratch, 'prod');
    const config = join(scratch, 'tether.yaml');
    writeFileSync(
      config,
      [
        'issuer: http://127.0.0.1:8080',
        `data_dir: ${dataDir}`,
        'scopes: [read]',
        'clients:',
        '  - { id: tether-cli, name: Tether CLI }',
      ].join('\n'),
    );
    const refused = await serve(['--config', config]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /no key-encryption key: set TETHER_KEK .* or keys\.kek_file/);
    assert.ok(!existsSync(join(dataDir, 'tether.sqlite')), 'nothing was written before the refusal');

    const kekFile = join(scratch, 'kek');
    writeFileSync(kekFile, `${Buffer.alloc(32, 9).toString('base64')}\n`, { mode: 0o600 });
    writeFileSync(config, `${readFileSync(config, 'utf8')}\nkeys: { kek_file: ${kekFile} }\n`);
    const started = await serve(['--config', config]);
    assert.equal(started.code, 0, started.stderr);
    assert.doesNotMatch(started.stdout, /RISK: the key-encryption key/);
    // Not public outside dev: no token, no metrics.
    assert.equal(started.metrics, 401);
  });
});
