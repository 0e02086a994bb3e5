import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlowDown } from '../oauth/errors.js';
import { FakeClock } from '../shared/clock.js';
import { PollPacer } from './poll-pacer.js';

test('polling on the interval is fine; faster gets slow_down and +5 s for all later polls', () => {
  const clock = new FakeClock(0);
  const pacer = new PollPacer(clock);
  pacer.poll('a', 5, 1000);
  clock.advance(5);
  pacer.poll('a', 5, 1000);
  clock.advance(2);
  assert.throws(() => pacer.poll('a', 5, 1000), (e) => e instanceof SlowDown && e.code === 'slow_down');
  assert.equal(pacer.intervalFor('a'), 10);
  clock.advance(6); // past the old 5 s, not the new 10 s
  assert.throws(() => pacer.poll('a', 5, 1000), SlowDown);
  assert.equal(pacer.intervalFor('a'), 15);
  clock.advance(15);
  pacer.poll('a', 5, 1000);
});

test('a little network jitter is forgiven', () => {
  const clock = new FakeClock(0);
  const pacer = new PollPacer(clock);
  pacer.poll('a', 5, 1000);
  clock.advance(4.9);
  pacer.poll('a', 5, 1000);
});

test('codes are paced independently and forgotten when they expire', () => {
  const clock = new FakeClock(0);
  const pacer = new PollPacer(clock);
  pacer.poll('a', 5, 10);
  pacer.poll('b', 5, 100);
  assert.equal(pacer.size, 2);
  clock.advance(11);
  pacer.sweep();
  assert.equal(pacer.size, 1);
  assert.equal(pacer.intervalFor('a'), undefined);
});
