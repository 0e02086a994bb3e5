import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ProofIdCache } from './proof-ids.js';

test('an id is claimed once while it lives, again after it ended; ended ids are swept', () => {
  let now = 1000;
  const ids = new ProofIdCache(() => now);
  assert.equal(ids.claim('jkt-a:jti-1', 1070), true);
  assert.equal(ids.claim('jkt-a:jti-1', 1070), false, 'a replay');
  assert.equal(ids.claim('jkt-b:jti-1', 1070), true, 'the same jti under another key is another proof');
  now = 1070;
  assert.equal(ids.claim('jkt-a:jti-2', 1140), true);
  assert.equal(ids.size, 1, 'the ids that ended at 1070 were swept');
  assert.equal(ids.claim('jkt-a:jti-1', 1140), true, 'past its end the id is free (its proof fails its age check anyway)');
});

test('distinct ids do not collide (200,000 random ones, all claimable, every replay refused)', () => {
  const ids = new ProofIdCache(() => 1000);
  const keys = Array.from({ length: 200_000 }, () => `k6pP3Wl0d2pM0mQ2YQm2c6H2y2Yb8F9y0x1w2v3u4tA:${randomUUID()}`);
  for (const key of keys) assert.equal(ids.claim(key, 1070), true);
  assert.equal(ids.size, keys.length);
  for (const key of keys.slice(0, 1000)) assert.equal(ids.claim(key, 1070), false);
});

test('two guards hash with different keys: the same id maps to unrelated numbers', () => {
  const hashOf = (cache: ProofIdCache, key: string) => (cache as unknown as { hash(k: string): number }).hash(key);
  const one = new ProofIdCache(() => 0);
  const two = new ProofIdCache(() => 0);
  assert.notEqual(hashOf(one, 'jkt:jti'), hashOf(two, 'jkt:jti'));
  assert.ok(Number.isSafeInteger(hashOf(one, 'jkt:jti')));
});

test('claimProof(jkt, jti) is claim("jkt:jti"): the same id, whichever way it is claimed', () => {
  const ids = new ProofIdCache(() => 1000);
  assert.equal(ids.claimProof('jkt-a', 'jti-0001', 1070), true);
  assert.equal(ids.claim('jkt-a:jti-0001', 1070), false, 'claimed before as a pair');
  assert.equal(ids.claim('jkt-a:jti-0002', 1070), true);
  assert.equal(ids.claimProof('jkt-a', 'jti-0002', 1070), false, 'claimed before as one string');
  assert.equal(ids.claimProof('jkt-b', 'jti-0001', 1070), true, 'another key');
});

test('the table grows, rebuilds and reuses ended slots without forgetting a live id', () => {
  let now = 1000;
  const ids = new ProofIdCache(() => now);
  const live: string[] = [];
  // 50 seconds of 2,000 proofs each, every id held 20 s: ended ids are taken over and the table rebuilt many times.
  for (let second = 0; second < 50; second++, now++) {
    for (let i = 0; i < 2000; i++) {
      const key = `jkt:${second}-${i}-${randomUUID()}`;
      assert.equal(ids.claim(key, now + 20), true);
      if (i % 50 === 0) live.push(key);
    }
    // Every id of the last 20 seconds is still refused as a replay, whatever was rebuilt meanwhile.
    for (const key of live.slice(-40 * 19)) assert.equal(ids.claim(key, now + 20), false, `${key} forgotten at ${now}`);
  }
  assert.ok(ids.size <= 2000 * 21, `only the live window is held (${ids.size})`);
  const table = (ids as unknown as { table: Float64Array }).table;
  assert.ok(table.length / 2 <= 2000 * 20 * 8, `the table is sized by the live window (${table.length / 2} slots)`);
});
