import type { SqliteHandle } from './sqlite.js';

/**
 * Runs synchronous work on the driver outside any Kysely transaction, at the least cost. The one connection is
 * shared with Kysely, and a Kysely transaction spans awaits: a raw statement run while one is open would read its
 * uncommitted rows, or write into it (and be undone by its rollback). `exclusive` avoids that by taking Kysely's
 * connection lock, a few promise turns per call. But when the connection is in no transaction (`inTransaction`
 * is SQLite's autocommit flag, false), there is nothing uncommitted to see and no transaction to land in: every
 * raw write is a synchronous transaction of its own, begun and committed within one call, and no Kysely
 * transaction can begin in the middle of a synchronous call. So the work runs at once; only while a transaction
 * is open does it wait for the lock, and it then runs after that transaction has ended.
 */
export function outsideTransaction<T>(sqlite: SqliteHandle, work: () => T): T | Promise<T> {
  return sqlite.raw.inTransaction ? sqlite.exclusive(work) : work();
}
