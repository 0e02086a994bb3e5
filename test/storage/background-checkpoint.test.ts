// SQLite checkpoints run in a thread of their own (storage/sqlite-checkpointer.ts). What must hold: the server's
// connection stops checkpointing only while that thread runs; the thread does move committed writes into the
// database file (or the WAL would grow without bound); and when the thread is gone, the server's connection
// checkpoints again. Real files, a real worker thread.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { openStorage, type StorageOptions } from '../../src/storage/open.js';
import { FOREGROUND_AUTOCHECKPOINT, SqliteCheckpointer } from '../../src/storage/sqlite-checkpointer.js';
import { openSqliteHandle } from '../../src/storage/sqlite.js';

const SQLITE: StorageOptions = { engine: 'sqlite', synchronous: 'normal', pool_size: 1 };
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-checkpoint-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The audit events in the database file alone, as a copy of it without its WAL sees them (what was checkpointed). */
function eventsInDatabaseFile(dataDir: string): number | undefined {
  const copy = join(tempDir(), 'copy.sqlite');
  copyFileSync(join(dataDir, 'tether.sqlite'), copy);
  try {
    const db = new SqliteDatabase(copy, { readonly: true });
    try {
      return Number(db.prepare('select count(*) from audit_events').pluck().get());
    } finally {
      db.close();
    }
  } catch {
    // Copied in the middle of a checkpoint's writes: look again.
    return undefined;
  }
}

/**
 * Writes that never pause, as a busy server's group commits are: a transaction of random-keyed rows about every
 * millisecond for `ms` (the thread's messages are handled between them, as between a server's batches).
 * Returns the rows written and the largest size the WAL file reached meanwhile.
 */
async function writeWithoutPause(raw: SqliteDatabase.Database, ms: number): Promise<{ rows: number; largest: number }> {
  raw.exec('create table if not exists filler (k blob primary key, v blob not null)');
  const insert = raw.prepare('insert into filler (k, v) values (?, ?)');
  const batch = raw.transaction((count: number) => {
    for (let i = 0; i < count; i++) insert.run(randomBytes(16), randomBytes(1_000));
  });
  const wal = `${raw.name}-wal`;
  let largest = 0;
  let rows = 0;
  for (const end = performance.now() + ms; performance.now() < end; rows += 20) {
    batch(20);
    largest = Math.max(largest, statSync(wal).size);
    await sleep(1);
  }
  return { rows, largest };
}

describe('SQLite checkpoints in a thread of their own', () => {
  test("the server's connection leaves checkpoints to the thread, and the thread moves every commit into the file", async () => {
    const dataDir = tempDir();
    const storage = await openStorage(SQLITE, dataDir);
    try {
      const setting = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(storage.db);
      assert.equal(setting.rows[0]?.wal_autocheckpoint, 0, 'the server connection must not checkpoint while the thread runs');
      const before = await sql<{ n: number }>`select count(*) as n from audit_events`.execute(storage.db);
      const total = Number(before.rows[0]?.n ?? 0) + 300;
      // 300 commits of their own: far below the foreground threshold, so only the thread can checkpoint them.
      for (let i = 0; i < 300; i++) await storage.audit.record([{ type: 'admin.action', at: i, data: { n: i } }]);
      let seen: number | undefined;
      for (let i = 0; i < 50 && seen !== total; i++) {
        await sleep(100);
        seen = eventsInDatabaseFile(dataDir);
      }
      assert.equal(seen, total, 'the database file holds every committed event once the thread has checkpointed');
    } finally {
      await storage.close();
    }
  });

  test('under writes that never pause the WAL starts over past its bound, and every row is kept', async () => {
    const MiB = 1024 * 1024;
    const largestWal = async (walLimitBytes: number) => {
      const sqlite = await openSqliteHandle({ dataDir: tempDir(), synchronous: 'normal' });
      // The server's connection cuts a rewound WAL back to the bound; here the test's bound.
      sqlite.raw.pragma(`journal_size_limit = ${2 * MiB}`);
      const checkpointer = await SqliteCheckpointer.start(sqlite.raw, 'normal', walLimitBytes);
      try {
        const { rows, largest } = await writeWithoutPause(sqlite.raw, 3_000);
        assert.equal(checkpointer.running, true, 'the thread still checkpoints');
        assert.equal(sqlite.raw.prepare('select count(*) from filler').pluck().get(), rows, 'every committed row is there');
        return largest;
      } finally {
        await checkpointer.stop();
        await sqlite.db.destroy();
      }
    };
    // With no bound (the thread's checkpoints alone, as before), the server appends while the thread copies, so
    // the WAL never starts over: it grows with everything written. This is what the bound must change.
    const unbounded = await largestWal(Number.POSITIVE_INFINITY);
    // Bounded at 2 MiB: once past it the thread asks for a rewind at its next checkpoint (every 500 ms), so the
    // file holds the bound plus about half a second of writes, whatever the machine's speed.
    const bounded = await largestWal(2 * MiB);
    assert.ok(unbounded > 8 * MiB, `without a bound the WAL grew to ${unbounded} bytes`);
    assert.ok(bounded < unbounded / 2, `bounded, the WAL reached ${bounded} bytes; unbounded ${unbounded}`);
  });

  test('when the thread is gone, the server connection checkpoints again', async () => {
    const sqlite = await openSqliteHandle({ dataDir: tempDir(), synchronous: 'normal' });
    try {
      const checkpointer = await SqliteCheckpointer.start(sqlite.raw, 'normal');
      assert.equal(checkpointer.running, true);
      assert.equal(sqlite.raw.pragma('wal_autocheckpoint', { simple: true }), 0);
      // The thread dies (as an out-of-memory or a crash in it would end it).
      const worker = (checkpointer as unknown as { worker: Worker }).worker;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      // Held open by the test until it has gone (a started checkpoint thread keeps no process alive).
      worker.ref();
      await worker.terminate();
      await exited;
      assert.equal(sqlite.raw.pragma('wal_autocheckpoint', { simple: true }), FOREGROUND_AUTOCHECKPOINT);
      assert.equal(checkpointer.running, false);
      await checkpointer.stop();
    } finally {
      await sqlite.db.destroy();
    }
  });

  test('stopping hands checkpoints back before the connection closes, and the data reopens whole', async () => {
    const dataDir = tempDir();
    const sqlite = await openSqliteHandle({ dataDir, synchronous: 'full' });
    const checkpointer = await SqliteCheckpointer.start(sqlite.raw, 'full');
    sqlite.raw.exec('create table kept (n integer)');
    for (let i = 0; i < 100; i++) sqlite.raw.prepare('insert into kept values (?)').run(i);
    await checkpointer.stop();
    assert.equal(sqlite.raw.pragma('wal_autocheckpoint', { simple: true }), FOREGROUND_AUTOCHECKPOINT);
    assert.equal(checkpointer.running, false);
    await sqlite.db.destroy();
    const reopened = new SqliteDatabase(join(dataDir, 'tether.sqlite'));
    try {
      assert.equal(reopened.prepare('select count(*) from kept').pluck().get(), 100);
    } finally {
      reopened.close();
    }
  });
});
