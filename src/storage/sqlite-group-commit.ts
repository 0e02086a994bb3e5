import type { SqliteHandle } from './sqlite.js';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit on SQLite: every write submitted in the same turn of the event loop runs in one transaction, each
 * in a savepoint of its own, and nobody is answered before that transaction has committed. The commit (writing the
 * transaction's pages to the WAL) is most of a small write's cost; shared by a batch, it is paid once.
 *
 * One item's failure rolls back its savepoint only, and that item alone is rejected; the others commit. A failed
 * commit rejects the whole batch, so no caller is ever told "done" for work that did not reach the database.
 * The batch runs through `exclusive`, so it never lands inside a Kysely transaction that holds the connection.
 */
export class SqliteGroupCommit {
  private pending: Pending[] = [];

  constructor(private readonly sqlite: SqliteHandle) {}

  /** Runs `work` (synchronous statements on the driver) in the next batch; resolves with its result once committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const { raw } = this.sqlite;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await this.sqlite.exclusive(() =>
        raw.transaction(() => {
          for (const item of batch) {
            try {
              // A nested better-sqlite3 transaction is a savepoint: a throw undoes this item only.
              outcomes.push({ ok: true, value: raw.transaction(item.work)() });
            } catch (error) {
              outcomes.push({ ok: false, value: error });
            }
          }
        })(),
      );
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve(outcome.value);
      else item.reject(outcome?.value);
    });
  }
}
