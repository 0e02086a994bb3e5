import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlowDown } from '../oauth/errors.js';
import { PollPacer } from './poll-pacer.js';

test('polling on the interval is fine; faster gets slow_down and +5 s for all later polls', () => {
  let now = 0;
  const pacer = new PollPacer(() => now);
  pacer.poll('a', 5, 1000);
  now += 5000;
  pacer.poll('a', 5, 1000);
  now += 2000;
  assert.throws(() => pacer.poll('a', 5, 1000), (e) => e instanceof SlowDown && e.code === 'slow_down');
  assert.equal(pacer.intervalFor('a'), 10);
  now += 6000; // past the old 5 s, not the new 10 s
  assert.throws(() => pacer.poll('a', 5, 1000), SlowDown);
  assert.equal(pacer.intervalFor('a'), 15);
  now += 15000;
  pacer.poll('a', 5, 1000);
});

test('a little network jitter is forgiven', () => {
  let now = 0;
  const pacer = new PollPacer(() => now);
  pacer.poll('a', 5, 1000);
  now += 4900;
  pacer.poll('a', 5, 1000);
});

test('codes are paced independently and forgotten when they expire', () => {
  let now = 0;
  const pacer = new PollPacer(() => now);
  pacer.poll('a', 5, 10);
  pacer.poll('b', 5, 100);
  assert.equal(pacer.size, 2);
  now = 11_000;
  pacer.sweep();
  assert.equal(pacer.size, 1);
  assert.equal(pacer.intervalFor('a'), undefined);
});
