import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiringCache } from './expiring-cache.js';

test('entries end at their time and the size never passes the limit', () => {
  const cache = new ExpiringCache<number, string>(100);
  for (let i = 0; i < 10_000; i++) cache.set(i, `v${i}`, 1000 + i, 0);
  assert.equal(cache.size, 100);
  assert.equal(cache.get(9_999, 0), 'v9999');
  assert.equal(cache.get(0, 0), undefined, 'the oldest went first');
  assert.equal(cache.get(9_999, 10_999), undefined, 'gone at its end');
  cache.set(1, 'late', 5, 10);
  assert.equal(cache.get(1, 10), undefined, 'an entry that has already ended is not stored');
});

test('when full, expired entries make room first', () => {
  const cache = new ExpiringCache<string, number>(3);
  cache.set('a', 1, 10, 0);
  cache.set('b', 2, 100, 0);
  cache.set('c', 3, 100, 0);
  cache.set('d', 4, 100, 50);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b', 50), 2);
});
