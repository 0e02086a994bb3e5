import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';

export interface PostgresOptions {
  /** A libpq connection URL (postgres://user:password@host:port/db). Never logged. */
  url: string;
  /** Connections this instance keeps open at most. */
  poolSize: number;
}

/** PostgreSQL as Tether's store: Kysely for the queries, the pool underneath for LISTEN/NOTIFY clients. */
export interface PostgresHandle {
  db: Kysely<Database>;
  pool: pg.Pool;
}

const INT8_OID = 20;

/**
 * Column types as numbers, as SQLite gives them: pg returns int8 (bigint columns, count(*)) as strings by
 * default, because they may exceed 2^53. Tether's bigints are times in seconds or milliseconds and sequence
 * numbers, all far below that.
 */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Connects to the database at `url` and brings its schema up to date (safe from several instances at once). */
export async function openPostgres(options: PostgresOptions): Promise<PostgresHandle> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    types: pgTypes,
    // Fail a request rather than queue it forever when the database is unreachable.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db as Kysely<unknown>);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, pool };
}
