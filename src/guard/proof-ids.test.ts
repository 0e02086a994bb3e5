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
