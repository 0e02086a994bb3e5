// The SQLite store answers a pending poll from memory (storage/pending-requests.ts). These play what that must never
// do: answer "pending" for a code whose approval, denial or abandonment has been acknowledged, even when a poll
// reads the row in the middle of that write; and answer for a row the sweep deleted. A restart starts empty and
// reads the rows again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditEventInput } from '../../src/audit/event.js';
import { openStorage, type Storage } from '../../src/storage/open.js';
import { FIXTURE_NOW, grantFor, pendingAuthorization } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;
const ctx = { ip: '192.0.2.1', userAgent: 'pending-requests-test' };
const event = (type: AuditEventInput['type']): AuditEventInput => ({ type, at: NOW, data: {} });
const open = (dataDir: string) => openStorage({ engine: 'sqlite', synchronous: 'normal', pool_size: 1 }, dataDir);

describe('pending requests held in memory on SQLite', () => {
  let dataDir: string;
  let storage: Storage;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tether-pending-'));
    storage = await open(dataDir);
  });
  after(async () => {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a decision is seen by the first poll after it is acknowledged, also when polls read the row during it', async () => {
    const store = storage.deviceAuthorizations;
    for (const decide of ['approve', 'deny', 'abandon'] as const) {
      const a = pendingAuthorization(ctx);
      assert.equal(await store.create(a, [event('device_code.requested')]), true);
      assert.equal((await store.findById(a.id))?.status, 'pending');
      const decision =
        decide === 'approve'
          ? store.approve(a.id, NOW + 1, ctx, grantFor(a), [event('device.approved')])
          : decide === 'deny'
            ? store.deny(a.id, NOW + 1, 'alice', ctx, [event('device.denied')])
            : store.abandon(a.id, NOW + 1, [event('device_code.abandoned')]);
      // Polls while the write is under way: each may read the row as it was, and so hold it again.
      const during = await Promise.all([store.findById(a.id), store.findById(a.id), store.findById(a.id)]);
      for (const read of during) assert.ok(read);
      assert.equal(await decision, true);
      const status = { approve: 'approved', deny: 'denied', abandon: 'abandoned' }[decide];
      assert.equal((await store.findById(a.id))?.status, status, `after ${decide}`);
    }
  });

  test('a decision that fails leaves the answer as the row is', async () => {
    const store = storage.deviceAuthorizations;
    const late = pendingAuthorization(ctx, { expiresAt: NOW - 1 });
    await store.create(late, [event('device_code.requested')]);
    assert.equal(await store.approve(late.id, NOW, ctx, grantFor(late), []), false, 'an expired code cannot be approved');
    const read = await store.findById(late.id);
    assert.equal(read?.status, 'pending');
    assert.equal(read?.expiresAt, NOW - 1, 'and the poll answers it expired');
  });

  test('a code the sweep deleted is unknown, not still pending', async () => {
    const store = storage.deviceAuthorizations;
    const gone = pendingAuthorization(ctx, { expiresAt: NOW + 10 });
    const kept = pendingAuthorization(ctx, { expiresAt: NOW + 300 });
    await store.create(gone, [event('device_code.requested')]);
    await store.create(kept, [event('device_code.requested')]);
    assert.equal((await store.findById(gone.id))?.status, 'pending');
    assert.ok((await store.deleteExpired(NOW + 100)) >= 1);
    assert.equal(await store.findById(gone.id), undefined);
    assert.equal((await store.findById(kept.id))?.status, 'pending');
  });

  test('after a restart the rows are read again, and a decision after it is seen', async () => {
    const a = pendingAuthorization(ctx);
    assert.equal(await storage.deviceAuthorizations.create(a, [event('device_code.requested')]), true);
    await storage.close();
    storage = await open(dataDir);
    const store = storage.deviceAuthorizations;
    assert.deepEqual(await store.findById(a.id), a, 'read from its row, exactly as created');
    assert.equal(await store.approve(a.id, NOW + 1, ctx, grantFor(a), [event('device.approved')]), true);
    assert.equal((await store.findById(a.id))?.status, 'approved');
  });

  test('what a poll is handed from memory equals what reading the row gives', async () => {
    const a = pendingAuthorization(ctx, { dpopJkt: 'jkt-1', deviceJkt: 'device-1', environment: 'ci', scopes: ['read'] });
    await storage.deviceAuthorizations.create(a, [event('device_code.requested')]);
    const held = await storage.deviceAuthorizations.findById(a.id);
    const row = await storage.db.selectFrom('device_authorizations').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
    assert.deepEqual(held, a);
    assert.equal(held?.dpopJkt, row.dpop_jkt);
    assert.ok(Object.isFrozen(held), 'held, so frozen: nobody may change what the next poll is handed');
  });
});
