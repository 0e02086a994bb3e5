import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';

export interface SqliteOptions {
  dataDir: string;
  /** normal: durable across a process crash (WAL); full: also across power loss. */
  synchronous: 'normal' | 'full';
}

/** Opens (creating if needed) the embedded database under dataDir and brings its schema up to date. */
export async function openSqlite(options: SqliteOptions): Promise<Kysely<Database>> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const sqlite = new SqliteDatabase(join(options.dataDir, 'tether.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db as Kysely<unknown>);
  return db;
}
