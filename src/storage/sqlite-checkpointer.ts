import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/** The checkpoint threshold of the server's own connection whenever no checkpoint thread runs (in pages). */
export const FOREGROUND_AUTOCHECKPOINT = 10_000;
/** How often the thread checkpoints: the WAL holds at most about this long of writes. */
const INTERVAL_MS = 500;

interface CheckpointThreadData {
  /** better-sqlite3's entry point, resolved here: the thread's `require` resolves from the working directory. */
  driver: string;
  file: string;
  synchronous: 'normal' | 'full';
  intervalMs: number;
}

/**
 * The thread: a connection of its own to the server's database file that moves the WAL into the database on a
 * timer, so a checkpoint's syncs are waited for there, never on the server's event loop. Messages: 'ready' once
 * its connection is open, { failed } when a checkpoint throws (it then stops). A source text rather than a
 * module file: the same text runs under the built JavaScript and under tsx (the tests), which Node 20 does not
 * load into worker threads.
 */
const THREAD_SOURCE = `
const { parentPort: port, workerData } = require('node:worker_threads');
const { driver, file, synchronous, intervalMs } = workerData;
const SqliteDatabase = require(driver);
// The server created the file and set WAL mode (a property of the file): this connection only joins it.
const db = new SqliteDatabase(file, { fileMustExist: true });
// A checkpoint syncs as its connection's setting says: the server's, so FULL still means FULL.
db.pragma(synchronous === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
// This connection writes no transactions: it never checkpoints on commit either.
db.pragma('wal_autocheckpoint = 0');
// PASSIVE copies what no reader still needs, and never waits on (or blocks) the server's readers and writers.
// With nothing new to copy it reads the WAL index and syncs nothing.
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');
const timer = setInterval(() => {
  try {
    checkpoint.get();
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

  private constructor(
    private readonly worker: Worker,
    private readonly raw: SqliteDatabase.Database,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
  }

  /** Starts the thread for `raw`'s database; resolves once it checkpoints (or has handed checkpoints back). */
  static async start(raw: SqliteDatabase.Database, synchronous: 'normal' | 'full'): Promise<SqliteCheckpointer> {
    const workerData: CheckpointThreadData = {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: raw.name,
      synchronous,
      intervalMs: INTERVAL_MS,
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
        } else this.handBack();
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
