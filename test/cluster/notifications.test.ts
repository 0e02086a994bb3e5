// LISTEN/NOTIFY between instances on one PostgreSQL database, with the real notifier: device trust changed on
// one instance counts on the other at once (not after the cache's TTL), and a revocation committed on one
// reaches the other's feed subscribers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CachedDeviceStore } from '../../src/devices/cached-device-store.js';
import { RevocationFeed } from '../../src/events/revocation-feed.js';
import type { RevocationStatement } from '../../src/revocation/statement.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { SqlDeviceStore } from '../../src/storage/devices.js';
import { SqlGrantStore } from '../../src/storage/grants.js';
import { openStorage, type Storage } from '../../src/storage/open.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../support/postgres.js';

const skip = postgresSkipReason();
const HOUR_MS = 3_600_000;

const waitFor = async (check: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
};

describe('notifications between instances (PostgreSQL)', { skip }, () => {
  let pg: TestPostgres;
  let one: Storage;
  let two: Storage;

  before(async () => {
    pg = await startPostgres();
    const url = await pg.database();
    const options = { engine: 'postgres' as const, synchronous: 'normal' as const, url, pool_size: 4 };
    one = await openStorage(options, '/nonexistent');
    two = await openStorage(options, '/nonexistent');
  });

  after(async () => {
    await one?.close();
    await two?.close();
    await pg?.stop();
  });

  test('device trust approved or revoked on one instance counts on the other at once', async () => {
    // A TTL of an hour: only the notification can make the second instance see the change within the test.
    const here = new CachedDeviceStore(new SqlDeviceStore(one.db), HOUR_MS, undefined, one.notifications?.devices);
    const there = new CachedDeviceStore(new SqlDeviceStore(two.db), HOUR_MS, undefined, two.notifications?.devices);
    const jkt = `jkt-${uuidv7()}`;
    await here.enroll({ jkt, name: 'laptop', requestedClass: 'managed', now: 1 });
    assert.equal(await there.classOf(jkt), undefined, 'the second instance now holds a copy without the key');
    await here.approve(jkt, { by: 'admin', now: 2 });
    assert.ok(await waitFor(async () => (await there.classOf(jkt)) !== undefined, 1000), 'approval seen within a second');
    await here.revoke(jkt, { by: 'admin', now: 3 });
    assert.ok(await waitFor(async () => (await there.classOf(jkt)) === undefined, 1000), 'revocation seen within a second');
  });

  test('a revocation committed on one instance reaches the other instance’s subscribers', async () => {
    const storeOne = new SqlGrantStore(one.db);
    const storeTwo = new SqlGrantStore(two.db);
    const feedOne = new RevocationFeed(storeOne, 600, one.notifications?.revocations);
    const feedTwo = new RevocationFeed(storeTwo, 600, two.notifications?.revocations);
    const stopOne = feedOne.follow(await storeOne.lastRevocationSeq());
    const stopTwo = feedTwo.follow(await storeTwo.lastRevocationSeq());
    const seenTwo: RevocationStatement[] = [];
    const seenOne: RevocationStatement[] = [];
    feedTwo.subscribe((s) => seenTwo.push(s));
    feedOne.subscribe((s) => seenOne.push(s));
    const statement: RevocationStatement = {
      id: uuidv7(), kind: 'user', value: 'mallory', issuedBefore: 10, issuedBeforeMs: 10_000, createdAt: 10, actor: 'admin', reason: 'test', via: 'admin_api',
    };
    await storeOne.applyRevocation(statement, () => []);
    feedOne.publish(statement);
    assert.ok(await waitFor(async () => seenTwo.length === 1, 1000), 'the other instance relayed it');
    assert.equal(seenTwo[0]?.id, statement.id);
    assert.equal(seenTwo[0]?.seq, statement.seq);
    await feedOne.catchUp();
    assert.equal(seenOne.length, 1, 'the instance that made it sends it once, not again when reading it back');
    stopOne();
    stopTwo();
  });

  test('a server sends its own statement only after the lower-numbered ones others committed first', async () => {
    // The event stream skips any position at or below the last it sent, so sending N+1 (made here) before N
    // (made elsewhere, its announcement still on the way) would lose N for every guard on this server.
    const storeOne = new SqlGrantStore(one.db);
    const storeTwo = new SqlGrantStore(two.db);
    const deaf = new RevocationFeed(storeTwo, 600); // hears no announcements: the other server's is "late"
    const stop = deaf.follow(await storeTwo.lastRevocationSeq());
    const seen: number[] = [];
    deaf.subscribe((s) => seen.push(s.seq ?? -1));
    const statement = (value: string): RevocationStatement => ({
      id: uuidv7(), kind: 'user', value, issuedBefore: 10, issuedBeforeMs: 10_000, createdAt: 10, actor: 'admin', reason: 'test', via: 'admin_api',
    });
    const elsewhere = statement('first');
    await storeOne.applyRevocation(elsewhere, () => []);
    const here = statement('second');
    await storeTwo.applyRevocation(here, () => []);
    deaf.publish(here);
    assert.ok(await waitFor(async () => seen.length === 2, 1000), `sent: ${seen.join(', ')}`);
    assert.deepEqual(seen, [elsewhere.seq, here.seq]);
    stop();
  });
});
