import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { secureDataDir } from './data-dir.js';
import { migrateToLatest } from './migrate.js';
import { FOREGROUND_AUTOCHECKPOINT, WAL_LIMIT_BYTES } from './sqlite-checkpointer.js';
import type { Database } from './schema.js';

export interface SqliteOptions {
  dataDir: string;
  /** normal: durable across a process crash (WAL); full: also across power loss. */
  synchronous: 'normal' | 'full';
}

/** The embedded database: Kysely for most queries, and the driver itself for the few hot paths that need it. */
export interface SqliteHandle {
  db: Kysely<Database>;
  raw: SqliteDatabase.Database;
  /**
   * Runs `work` on the driver while no Kysely transaction holds the connection, so raw statements never land
   * inside someone else's open transaction.
   */
  exclusive<T>(work: () => T): Promise<T>;
}

/** The server connection's page cache, in KiB as `cache_size` takes it (negative): 8 MiB. */
const PAGE_CACHE_KIB = -8192;
/** How much of the database file reads may map: 1 GiB, the rest is read with read(2). */
const MMAP_BYTES = 1 << 30;

/** Opens (creating if needed) the embedded database under dataDir and brings its schema up to date. */
export async function openSqlite(options: SqliteOptions): Promise<Kysely<Database>> {
  return (await openSqliteHandle(options)).db;
}

export async function openSqliteHandle(options: SqliteOptions): Promise<SqliteHandle> {
  secureDataDir(options.dataDir);
  const sqlite = new SqliteDatabase(join(options.dataDir, 'tether.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  // The database, its -wal and its -shm now exist: none may be readable by anyone else (they hold sealed keys,
  // hashes and the audit log). SQLite creates the -wal and -shm with the database file's mode from here on.
  secureDataDir(options.dataDir);
  sqlite.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  // Checkpoints (WAL → database file) are where NORMAL mode fsyncs; fewer, larger ones cost far less per write.
  // The server hands them to a thread of their own (sqlite-checkpointer.ts); this is for everything else.
  sqlite.pragma(`wal_autocheckpoint = ${FOREGROUND_AUTOCHECKPOINT}`);
  // When the WAL starts over, a file that once grew past the bound is cut back to it (sqlite-checkpointer.ts).
  sqlite.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
  // A small page cache, and reads from a memory map of the file. Not 64 MiB: when a B-tree page splits, SQLite
  // swaps page numbers through the pending-byte page (262,145 with 4 KiB pages), and every commit after that
  // scans the whole page cache to drop pages past the end of a file smaller than 1 GiB: a cost that grew with
  // every page cached (bench/scaling.mjs, live grants; docs/architecture.md, "SQLite's page cache"). The map
  // serves reads outside a write without a copy or a system call; SQLite only reads through it (writes still go
  // to the WAL with write(2)), so durability is as before.
  sqlite.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
  sqlite.pragma(`mmap_size = ${MMAP_BYTES}`);
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  await migrateToLatest(db as Kysely<unknown>);
  return { db, raw: sqlite, exclusive: (work) => db.connection().execute(async () => work()) };
}

/**
 * Kysely's SQLite driver prepares every statement anew on each query, which costs more than running it. The
 * queries are the same few texts over and over (values are bound parameters), so keep each prepared statement.
 * The bound is a guard against `in (…)` lists of varying length filling the map.
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= 500) statements.clear();
        statement = sqlite.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
