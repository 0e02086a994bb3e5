// The SQLite fast paths read and write on the driver at once when no transaction is open, and wait for the
// connection otherwise (storage/sqlite-outside-transaction.ts). These play what that must rule out: acting on rows
// of a Kysely transaction that has not committed (and then rolls back), and a write that lands inside such a
// transaction and is undone with it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Transaction } from 'kysely';
import type { AuditEventInput } from '../../src/audit/event.js';
import type { DeviceAuthorization } from '../../src/device-flow/device-authorization.js';
import type { Grant } from '../../src/grants/grant.js';
import { deviceAuthorizationRow } from '../../src/storage/device-authorizations.js';
import { openStorage, type Storage } from '../../src/storage/open.js';
import type { Database } from '../../src/storage/schema.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { FIXTURE_NOW, grantFor as grantOf, pendingAuthorization } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;
const ctx = { ip: '192.0.2.1', userAgent: 'outside-transaction-test' };
const event = (type: AuditEventInput['type']): AuditEventInput => ({ type, at: NOW, data: {} });

class Rollback extends Error {}

/** Runs `inside` in a Kysely transaction that then rolls back; what `inside` started is awaited afterwards. */
async function inRolledBackTransaction<T>(storage: Storage, inside: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  let started: T | undefined;
  await assert.rejects(
    storage.db.transaction().execute(async (tx) => {
      started = await inside(tx);
      // Let every setImmediate (a group commit's flush) and microtask run while the transaction is still open.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      throw new Rollback('roll back');
    }),
    Rollback,
  );
  return started as T;
}

const authorization = () => pendingAuthorization(ctx, { scopes: ['read'] });
const grantFor = (a: DeviceAuthorization) => grantOf(a, { dpopJkt: 'jkt-1' });

describe('SQLite fast paths never act on, or write into, an open transaction', () => {
  let dataDir: string;
  let storage: Storage;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tether-outside-tx-'));
    storage = await openStorage({ engine: 'sqlite', synchronous: 'normal', pool_size: 1 }, dataDir);
  });
  after(async () => {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('an approval not yet committed cannot be redeemed: the code reads as it was once that transaction ends', async () => {
    const a = authorization();
    // Written behind the store's back, so the store does not hold it as pending (storage/pending-requests.ts): the
    // read below must come from the table, inside the open transaction.
    await storage.db.insertInto('device_authorizations').values(deviceAuthorizationRow(a)).execute();
    const found = await inRolledBackTransaction(storage, async (tx) => {
      await tx.updateTable('device_authorizations').set({ status: 'approved' }).where('id', '=', a.id).execute();
      return { read: storage.deviceAuthorizations.findById(a.id) };
    });
    assert.equal((await found.read)?.status, 'pending');
  });

  test('a grant or refresh token revived by an uncommitted transaction stays revoked, a person stays inactive', async () => {
    const a = authorization();
    await storage.deviceAuthorizations.create(a, [event('device_code.requested')]);
    const grant = grantFor(a);
    assert.equal(await storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [event('device.approved')]), true);
    const tokens = {
      access: { jti: uuidv7(), grantId: grant.id, issuedAt: NOW, expiresAt: NOW + 600 },
      refresh: { hash: `rt-${uuidv7()}`, grantId: grant.id, parentHash: null, issuedAt: NOW, expiresAt: NOW + 3600 },
    };
    assert.equal(await storage.deviceAuthorizations.redeem(a.id, tokens, 'jkt-1', [event('token.issued')]), true);
    await storage.db.updateTable('grants').set({ status: 'revoked' }).where('id', '=', grant.id).execute();
    await storage.db.updateTable('refresh_tokens').set({ status: 'revoked' }).where('hash', '=', tokens.refresh.hash).execute();
    await storage.directory.seedLocalAccounts([{ id: 'alice', userName: 'alice', displayName: 'Alice', groups: ['staff'] }], NOW);
    await storage.db.updateTable('directory_users').set({ active: 0 }).where('id', '=', 'alice').execute();

    const reads = await inRolledBackTransaction(storage, async (tx) => {
      await tx.updateTable('grants').set({ status: 'active' }).where('id', '=', grant.id).execute();
      await tx.updateTable('refresh_tokens').set({ status: 'active' }).where('hash', '=', tokens.refresh.hash).execute();
      await tx.updateTable('directory_users').set({ active: 1 }).where('id', '=', 'alice').execute();
      return {
        grant: storage.grants.findGrant(grant.id),
        refresh: storage.tokens.findRefreshToken(tokens.refresh.hash),
        person: storage.directory.findUser('alice'),
      };
    });
    assert.equal((await reads.grant)?.status, 'revoked');
    assert.equal((await reads.refresh)?.status, 'revoked');
    assert.equal((await reads.person)?.active, false);
  });

  test('a rotation submitted while a transaction is open is not undone by its rollback', async () => {
    const a = authorization();
    await storage.deviceAuthorizations.create(a, [event('device_code.requested')]);
    const grant = grantFor(a);
    await storage.deviceAuthorizations.approve(a.id, NOW + 1, ctx, grant, [event('device.approved')]);
    const first = {
      access: { jti: uuidv7(), grantId: grant.id, issuedAt: NOW, expiresAt: NOW + 600 },
      refresh: { hash: `rt-${uuidv7()}`, grantId: grant.id, parentHash: null, issuedAt: NOW, expiresAt: NOW + 3600 },
    };
    await storage.deviceAuthorizations.redeem(a.id, first, 'jkt-1', [event('token.issued')]);
    const next = {
      access: { jti: uuidv7(), grantId: grant.id, issuedAt: NOW + 5, expiresAt: NOW + 605 },
      refresh: { hash: `rt-${uuidv7()}`, grantId: grant.id, parentHash: first.refresh.hash, issuedAt: NOW + 5, expiresAt: NOW + 3605 },
    };
    const rotation = await inRolledBackTransaction(storage, async (tx) => {
      await tx.updateTable('device_authorizations').set({ interval: 10 }).where('id', '=', a.id).execute();
      return { done: storage.tokens.rotateRefreshToken(first.refresh.hash, next, [event('token.refreshed')]) };
    });
    assert.equal(await rotation.done, true);
    assert.equal((await storage.tokens.findRefreshToken(first.refresh.hash))?.status, 'rotated');
    assert.equal((await storage.tokens.findRefreshToken(next.refresh.hash))?.status, 'active');
    // The rolled-back transaction's own change is gone, as it should be.
    const row = await storage.db.selectFrom('device_authorizations').select('interval').where('id', '=', a.id).executeTakeFirst();
    assert.equal(Number(row?.interval), 5);
  });
});
