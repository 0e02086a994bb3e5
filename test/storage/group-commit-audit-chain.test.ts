// A group commit runs each item of a batch in a savepoint of its own (storage/sqlite-group-commit.ts), and the
// refresh, redemption and standalone audit paths append their events inside those items. What must hold: an item
// that appends and then fails takes its events with it, and the chain the batch commits links exactly the events
// that committed, with no gap and no link to a rolled-back event. Real SQLite, the chain checked by `verifyChain`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AuditEventInput } from '../../src/audit/event.js';
import { verifyChain } from '../../src/audit/verify.js';
import { SqlAuditCheckpoints } from '../../src/storage/audit-log.js';
import { SqliteAuditAppender } from '../../src/storage/sqlite-audit-append.js';
import { SqliteGroupCommit } from '../../src/storage/sqlite-group-commit.js';
import { openSqliteHandle, type SqliteHandle } from '../../src/storage/sqlite.js';

const dirs: string[] = [];
const handles: SqliteHandle[] = [];
after(async () => {
  for (const h of handles) await h.db.destroy();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function open() {
  const dir = mkdtempSync(join(tmpdir(), 'tether-batch-chain-'));
  dirs.push(dir);
  const sqlite = await openSqliteHandle({ dataDir: dir, synchronous: 'normal' });
  handles.push(sqlite);
  const appender = new SqliteAuditAppender(sqlite.raw);
  return { sqlite, appender, commit: new SqliteGroupCommit(sqlite), checkpoints: new SqlAuditCheckpoints(sqlite.db) };
}

const event = (n: number): AuditEventInput => ({ type: 'admin.action', at: 1_700_000_000 + n, data: { n } });

class ItemFailed extends Error {}

async function chainOf(checkpoints: SqlAuditCheckpoints) {
  const events = await checkpoints.allEvents();
  const report = await verifyChain(events, [], async () => true);
  return { events, report, head: await checkpoints.auditHead() };
}

test('items that append and then fail leave no event, and the committed events form one unbroken chain', async () => {
  const { appender, commit, checkpoints } = await open();
  // One turn of the event loop, so one batch: successes between failures, a failure of two events included.
  const outcomes = await Promise.allSettled([
    commit.run(() => appender.append([event(1)])),
    commit.run(() => {
      appender.append([event(2)]);
      throw new ItemFailed('after its event');
    }),
    commit.run(() => appender.append([event(3)])),
    commit.run(() => {
      appender.append([event(4), event(5)]);
      throw new ItemFailed('after two events');
    }),
    commit.run(() => appender.append([event(6)])),
  ]);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
  );

  const { events, report, head } = await chainOf(checkpoints);
  assert.deepEqual(
    events.map((e) => [e.seq, e.data['n']]),
    [
      [1, 1],
      [2, 3],
      [3, 6],
    ],
  );
  assert.equal(report.ok, true, JSON.stringify(report.firstBad));
  assert.deepEqual(head, { seq: 3, hash: events[2]?.hash });

  // The next batch continues from the head this one wrote.
  await Promise.all([commit.run(() => appender.append([event(7)])), commit.run(() => appender.append([event(8)]))]);
  const next = await chainOf(checkpoints);
  assert.deepEqual(
    next.events.map((e) => e.seq),
    [1, 2, 3, 4, 5],
  );
  assert.equal(next.report.ok, true, JSON.stringify(next.report.firstBad));
  assert.equal(next.head?.seq, 5);
});

test('a batch whose every item fails leaves the chain and its head as they were', async () => {
  const { appender, commit, checkpoints } = await open();
  await commit.run(() => appender.append([event(1)]));
  const before = await chainOf(checkpoints);

  const outcomes = await Promise.allSettled([
    commit.run(() => {
      appender.append([event(2)]);
      throw new ItemFailed('first');
    }),
    commit.run(() => {
      appender.append([event(3)]);
      throw new ItemFailed('second');
    }),
  ]);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['rejected', 'rejected'],
  );
  const afterwards = await chainOf(checkpoints);
  assert.deepEqual(afterwards.events, before.events);
  assert.deepEqual(afterwards.head, before.head);

  // And appends outside any batch (in a driver transaction of their own) still link onto it.
  appender.append([event(4)]);
  const last = await chainOf(checkpoints);
  assert.deepEqual(
    last.events.map((e) => e.seq),
    [1, 2],
  );
  assert.equal(last.report.ok, true, JSON.stringify(last.report.firstBad));
});
