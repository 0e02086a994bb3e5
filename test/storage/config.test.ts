// The storage section: which engine, and where a PostgreSQL URL comes from. The URL carries the database
// password, so the file may only name where it is (an environment variable or a file), never hold it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { databaseUrl, StorageConfigError } from '../../src/storage/open.js';

const base = { issuer: 'https://login.example', scopes: ['read'], clients: [{ id: 'cli', name: 'CLI' }] };
const parse = (storage: unknown) => parseConfig({ ...base, storage }, 'test');

test('SQLite stays the default engine', () => {
  const config = parseConfig(base, 'test');
  assert.equal(config.storage.engine, 'sqlite');
  assert.equal(config.storage.synchronous, 'normal');
});

test('postgres takes its URL from an environment variable or a file', () => {
  assert.equal(parse({ engine: 'postgres', url_env: 'TETHER_DATABASE_URL' }).storage.url_env, 'TETHER_DATABASE_URL');
  assert.equal(parse({ engine: 'postgres', url_file: '/run/secrets/db' }).storage.url_file, '/run/secrets/db');
  assert.equal(parse({ engine: 'postgres', url_env: 'X', pool_size: 20 }).storage.pool_size, 20);
});

test('a URL with a password written in the file is refused, and the message does not repeat it', () => {
  for (const url of ['postgres://tether:s3cret-pw@db.example/tether', 'postgres://db.example/tether?password=s3cret-pw']) {
    assert.throws(
      () => parse({ engine: 'postgres', url }),
      (error: unknown) => error instanceof ConfigError && /storage\.url/.test(error.message) && !error.message.includes('s3cret-pw'),
    );
  }
  // Without a password (peer or certificate authentication) it may stand in the file.
  assert.equal(parse({ engine: 'postgres', url: 'postgres://tether@db.example/tether' }).storage.url, 'postgres://tether@db.example/tether');
});

test('postgres without a URL source, with two, or a URL source on sqlite, is a configuration error', () => {
  assert.throws(() => parse({ engine: 'postgres' }), /exactly one of url_env, url_file or url/);
  assert.throws(() => parse({ engine: 'postgres', url_env: 'A', url_file: '/f' }), /exactly one/);
  assert.throws(() => parse({ url_env: 'A' }), /engine is sqlite/);
  assert.throws(() => parse({ engine: 'postgres', url_env: 'not a name' }), /environment variable name/);
  assert.throws(() => parse({ engine: 'postgres', url_env: 'A', pool_size: 1 }), /pool_size/);
  assert.throws(() => parse({ engine: 'mysql' }), /storage\.engine/);
});

test('the URL is read at start; a missing variable or file is named, the value never appears', () => {
  const options = { engine: 'postgres' as const, synchronous: 'normal' as const, pool_size: 10 };
  assert.equal(databaseUrl({ ...options, url_env: 'DB' }, { DB: ' postgres://u:pw@h/d\n' }), 'postgres://u:pw@h/d');
  assert.throws(() => databaseUrl({ ...options, url_env: 'DB' }, {}), (e: unknown) => e instanceof StorageConfigError && /DB is not set/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'tether-url-'));
  try {
    const file = join(dir, 'url');
    writeFileSync(file, 'postgres://u:hunter2@h/d\n');
    assert.equal(databaseUrl({ ...options, url_file: file }), 'postgres://u:hunter2@h/d');
    writeFileSync(file, '\n');
    assert.throws(() => databaseUrl({ ...options, url_file: file }), /is empty/);
    assert.throws(
      () => databaseUrl({ ...options, url_file: join(dir, 'missing') }),
      (e: unknown) => e instanceof StorageConfigError && /ENOENT/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
