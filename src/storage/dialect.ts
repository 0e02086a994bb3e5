import { PostgresAdapter, type Kysely } from 'kysely';

/** The storage engines Tether runs on. */
export type Engine = 'sqlite' | 'postgres';

/**
 * Which engine a Kysely instance talks to. The one place that branches on the dialect: migrations and stores ask
 * here rather than each guessing, so a new engine-specific difference has one home.
 */
export function engineOf<DB>(db: Kysely<DB>): Engine {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * The column type of a sequence number that is also the primary key: on SQLite "integer primary key" is the
 * rowid itself (appends go to the end of the table's own tree); PostgreSQL's integer is 32-bit, so bigint there.
 */
export function sequenceType<DB>(db: Kysely<DB>): 'integer' | 'bigint' {
  return engineOf(db) === 'postgres' ? 'bigint' : 'integer';
}
