import type { SqliteHandle } from './sqlite.js';

/**
 * Runs a read on the driver so that it sees committed rows only, at the least cost. The one connection is shared
 * with Kysely, and a Kysely transaction spans awaits: a raw statement run while one is open would read its
 * uncommitted rows. When the connection is in no transaction (`inTransaction` is SQLite's autocommit flag), nothing
 * uncommitted exists anywhere (every raw write is a synchronous transaction of its own, begun and committed within
 * one call), so the read runs at once, with no turn through Kysely's connection lock; JavaScript cannot start a
 * transaction in the middle of a synchronous call. Only while a transaction is open does the read wait for the
 * connection (`exclusive`), and it then runs after that transaction has ended.
 */
export function committedRead<T>(sqlite: SqliteHandle, read: () => T): T | Promise<T> {
  return sqlite.raw.inTransaction ? sqlite.exclusive(read) : read();
}
