import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { FailureBackoff } from './failure-backoff.js';

const limits = { freeFailures: 2, baseDelay: 2, maxDelay: 10, maxFailures: 6, window: 100 };

test('free failures, then delays that double up to the cap, then a block until the oldest ages out', () => {
  const clock = new FakeClock(1000);
  const backoff = new FailureBackoff(limits, () => clock.now());
  const waits: number[] = [];
  for (let i = 0; i < 6; i++) {
    clock.advance(waits[i - 1] ?? 0);
    backoff.fail('k');
    waits.push(backoff.wait('k'));
  }
  // After 1 and 2 failures: free. After 3: 2 s, 4: 4 s, 5: 8 s, then 6 = the cap: blocked until the first ages out.
  assert.deepEqual(waits.slice(0, 5), [0, 0, 2, 4, 8]);
  assert.equal(waits[5], 1000 + 100 - clock.now());
});

test('the delay never exceeds maxDelay', () => {
  const clock = new FakeClock(0);
  const backoff = new FailureBackoff({ ...limits, maxFailures: Infinity }, () => clock.now());
  for (let i = 0; i < 20; i++) backoff.fail('k');
  assert.equal(backoff.wait('k'), 10);
});

test('a key that never failed is never slowed by another key', () => {
  const clock = new FakeClock(0);
  const backoff = new FailureBackoff(limits, () => clock.now());
  for (let i = 0; i < 50; i++) backoff.fail('attacker');
  assert.ok(backoff.wait('attacker') > 0);
  assert.equal(backoff.wait('person'), 0);
});

test('failures age out of the window, and sweep forgets the key', () => {
  const clock = new FakeClock(0);
  const backoff = new FailureBackoff(limits, () => clock.now());
  for (let i = 0; i < 6; i++) backoff.fail('k');
  clock.advance(101);
  assert.equal(backoff.wait('k'), 0);
  backoff.sweep();
  backoff.fail('k');
  assert.equal(backoff.wait('k'), 0, 'one fresh failure is free again');
});
