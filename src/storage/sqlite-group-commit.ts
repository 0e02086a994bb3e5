import type { SqliteHandle } from './sqlite.js';
import { outsideTransaction } from './sqlite-outside-transaction.js';

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
 * The batch runs `outsideTransaction`, so it never lands inside a Kysely transaction that holds the connection.
 */
export class SqliteGroupCommit {
  private pending: Pending[] = [];
  /**
   * One item in a savepoint of its own: a nested better-sqlite3 transaction is a savepoint, so a throw undoes
   * this item only. Made once: `transaction()` builds four wrapper functions each time it is called.
   */
  private readonly inSavepoint: (work: () => unknown) => unknown;
  /** The batch in one transaction; each item's outcome recorded, never thrown. */
  private readonly inTransaction: (batch: Pending[], outcomes: { ok: boolean; value: unknown }[]) => void;

  constructor(private readonly sqlite: SqliteHandle) {
    const { raw } = sqlite;
    this.inSavepoint = raw.transaction((work: () => unknown) => work());
    this.inTransaction = raw.transaction((batch: Pending[], outcomes: { ok: boolean; value: unknown }[]) => {
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: this.inSavepoint(item.work) });
        } catch (error) {
          outcomes.push({ ok: false, value: error });
        }
      }
    });
  }

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
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await outsideTransaction(this.sqlite, () => this.inTransaction(batch, outcomes));
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
