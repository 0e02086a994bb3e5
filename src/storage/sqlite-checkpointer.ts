import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/** The checkpoint threshold of the server's own connection whenever no checkpoint thread runs (in pages). */
export const FOREGROUND_AUTOCHECKPOINT = 10_000;
/** How often the thread checkpoints: the WAL holds at most about this long of writes. */
const INTERVAL_MS = 500;
/**
 * The size the WAL file is held to (bytes). Under writes that never pause, the thread's checkpoints alone never
 * let the WAL start over: the server appends while the thread copies, so no checkpoint ever finds every frame
 * copied, and SQLite rewinds a WAL only then. Measured before this bound: 431 MB of WAL after 5,500 device
 * logins, and under sustained device requests a fifth of the server's CPU went to growing that file (ext4
 * allocating and zeroing each new page). Past this size the thread asks the server to rewind it (`rewind`); the
 * server's connection cuts a file that once grew larger back to it (`journal_size_limit`, sqlite.ts).
 */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

interface CheckpointThreadData {
  /** better-sqlite3's entry point, resolved here: the thread's `require` resolves from the working directory. */
  driver: string;
  file: string;
  synchronous: 'normal' | 'full';
  intervalMs: number;
  walLimitBytes: number;
}

/**
 * The thread: a connection of its own to the server's database file that moves the WAL into the database on a
 * timer, so a checkpoint's syncs are waited for there, never on the server's event loop. Messages: 'ready' once
 * its connection is open, 'rewind' when the WAL has passed WAL_LIMIT_BYTES, { failed } when a checkpoint throws
 * (it then stops). A source text rather than a module file: the same text runs under the built JavaScript and
 * under tsx (the tests), which Node 20 does not load into worker threads.
 */
const THREAD_SOURCE = `
const { parentPort: port, workerData } = require('node:worker_threads');
const { driver, file, synchronous, intervalMs, walLimitBytes } = workerData;
const SqliteDatabase = require(driver);
// The server created the file and set WAL mode (a property of the file): this connection only joins it.
const db = new SqliteDatabase(file, { fileMustExist: true });
// A checkpoint syncs as its connection's setting says: the server's, so FULL still means FULL.
db.pragma(synchronous === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
// This connection writes no transactions: it never checkpoints on commit either.
db.pragma('wal_autocheckpoint = 0');
// A WAL frame is a page and its 24-byte header.
const limitFrames = Math.floor(walLimitBytes / (db.pragma('page_size', { simple: true }) + 24));
// PASSIVE copies what no reader still needs, and never waits on (or blocks) the server's readers and writers.
// With nothing new to copy it reads the WAL index and syncs nothing.
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    // Past the bound, with most of the WAL just copied: the server copies the rest and its next commit rewinds.
    if (checkpoint.get().log >= limitFrames) port.postMessage('rewind');
  } catch (error) {
    clearInterval(timer);
    port.postMessage({ failed: String(error && error.message || error) });
  }
}, intervalMs);
port.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
port.postMessage('ready');
`;

/**
 * Checkpoints in a worker thread of their own. A checkpoint copies the write-ahead log into the database file and
 * syncs both, and better-sqlite3 runs it on the connection's thread: on the server's connection (SQLite's
 * automatic checkpoint, at the commit that crosses the threshold) every request in flight waited out those
 * syncs, 20 to 30 ms each on this machine, which was most of a token response's p99 (bench/run.mjs: refresh p99
 * 47 ms with it, 17 ms without). The thread's own connection checkpoints PASSIVE on a timer instead, and the
 * server's connection no longer checkpoints at all.
 *
 * Durability does not move: a commit is durable once it is in the WAL (a crash replays it from there), and the
 * checkpoint only moves committed pages, whoever runs it. If the thread cannot start or fails, the server's
 * connection takes checkpoints back, so the WAL never grows without bound.
 */
export class SqliteCheckpointer {
  private stopped = false;
  /** Settles when the thread has ended, whatever ended it. */
  private readonly exited: Promise<unknown>;
  /** A checkpoint on the server's own connection: PASSIVE, so it never waits for (or blocks) the thread. */
  private readonly catchUp: SqliteDatabase.Statement;

  private constructor(
    private readonly worker: Worker,
    private readonly raw: SqliteDatabase.Database,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    this.catchUp = raw.prepare('pragma wal_checkpoint(PASSIVE)');
  }

  /**
   * Starts the thread for `raw`'s database; resolves once it checkpoints (or has handed checkpoints back).
   * `walLimitBytes` is the server's WAL_LIMIT_BYTES; tests pass a smaller bound, or Infinity for none.
   */
  static async start(
    raw: SqliteDatabase.Database,
    synchronous: 'normal' | 'full',
    walLimitBytes = WAL_LIMIT_BYTES,
  ): Promise<SqliteCheckpointer> {
    const workerData: CheckpointThreadData = {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: raw.name,
      synchronous,
      intervalMs: INTERVAL_MS,
      walLimitBytes,
    };
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData });
    const checkpointer = new SqliteCheckpointer(worker, raw);
    await checkpointer.ready();
    // Once started, a checkpoint thread never keeps the process alive on its own.
    worker.unref();
    return checkpointer;
  }

  /** Whether the thread checkpoints now (false: the server's connection does). */
  get running(): boolean {
    return !this.stopped && this.raw.pragma('wal_autocheckpoint', { simple: true }) === 0;
  }

  private ready(): Promise<void> {
    return new Promise((resolve) => {
      this.worker.on('message', (message: unknown) => {
        if (message === 'ready') {
          this.raw.pragma('wal_autocheckpoint = 0');
          resolve();
        } else if (message === 'rewind') this.rewind();
        else this.handBack();
      });
      // An error (e.g. the file could not be opened there) or an exit before `stop`: the server checkpoints again.
      this.worker.on('error', () => {
        this.handBack();
        resolve();
      });
      this.worker.on('exit', () => {
        this.handBack();
        resolve();
      });
    });
  }

  /**
   * Copies the frames appended while the thread copied the rest (a few milliseconds' worth, synced here: the one
   * checkpoint the event loop waits for, once per WAL_LIMIT_BYTES written), so that every frame is in the database
   * and the next commit writes the WAL from its start. Inside a transaction (a Kysely one holds the connection)
   * it waits for the thread's next message; so does a copy the thread happens to be running (PASSIVE answers busy).
   */
  private rewind(): void {
    if (this.stopped || !this.raw.open || this.raw.inTransaction) return;
    try {
      this.catchUp.get();
    } catch {
      // Nothing is lost: the frames stay in the WAL, which only grows until the thread's next message.
    }
  }

  private handBack(): void {
    if (this.raw.open) this.raw.pragma(`wal_autocheckpoint = ${FOREGROUND_AUTOCHECKPOINT}`);
  }

  /** Stops the thread (before the server's connection closes); checkpoints are the connection's own again. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.handBack();
    // Held open until it has closed its connection (a thread already gone ignores both).
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
