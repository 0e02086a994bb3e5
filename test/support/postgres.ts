import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** A PostgreSQL server for one test file: a fresh database on it per call of `database()`. */
export interface TestPostgres {
  /** Creates an empty database and returns its URL. */
  database(): Promise<string>;
  /** Drops what was created and, for a cluster of our own, stops it and deletes its folder. */
  stop(): Promise<void>;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (process.env['TETHER_TEST_PG_URL']) return undefined;
  return binDir() ? undefined : 'PostgreSQL binaries (initdb, pg_ctl) not found; apt-get install postgresql, or set TETHER_TEST_PG_URL';
}

/**
 * A real PostgreSQL server: the one at TETHER_TEST_PG_URL if set, else a cluster of our own in a temporary
 * folder (data and unix socket both there) on a free port, run as the `postgres` user when we are root (the
 * server refuses to run as root). Under CI missing binaries fail the test run rather than skip it.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env['TETHER_TEST_PG_URL'];
  if (external) return onServer(external, async () => undefined);
  const bin = binDir();
  if (!bin) throw new Error(postgresUnavailable());

  const dir = mkdtempSync(join(tmpdir(), 'tether-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  await as('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const stopSync = () => {
    try {
      const args = ['-D', data, '-m', 'immediate', '-w', 'stop'];
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
      else execFileSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that dies early still takes its cluster with it.
  process.once('exit', stopSync);
  return onServer(`postgres://postgres@127.0.0.1:${port}/postgres`, async () => {
    process.removeListener('exit', stopSync);
    stopSync();
  });
}

function onServer(adminUrl: string, shutdown: () => Promise<void>): TestPostgres {
  const created: string[] = [];
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  return {
    async database() {
      const name = `tether_test_${process.pid}_${created.length}_${Math.random().toString(36).slice(2, 8)}`;
      await admin((c) => c.query(`create database ${name}`));
      created.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async stop() {
      if (process.env['TETHER_TEST_PG_URL']) {
        await admin(async (c) => {
          for (const name of created) await c.query(`drop database if exists ${name} with (force)`);
        }).catch(() => undefined);
      }
      await shutdown();
    },
  };
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = join(root, version, 'bin');
      if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
    }
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir']).toString().trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config on PATH
  }
  return undefined;
}

/**
 * The engines a storage test runs on: SQLite always; PostgreSQL when a server can be had, and always under CI
 * (where a missing server fails the run instead of quietly skipping half the suite).
 */
export function postgresSkipReason(): string | false {
  const reason = postgresUnavailable();
  if (!reason) return false;
  if (process.env['CI'] === 'true' || process.env['CI'] === '1') {
    throw new Error(`CI=true but ${reason}`);
  }
  return reason;
}
