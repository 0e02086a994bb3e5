import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { CountedBackoff } from './counted-backoff.js';
import { MemoryFailureCounts } from './failure-counts.js';

const limits = { freeFailures: 3, baseDelay: 2, maxDelay: 300, maxFailures: 6, window: 3600 };

test('one attempt at a time: the rule of FailureBackoff, withdrawn attempts not counted', async () => {
  const clock = new FakeClock();
  const backoff = new CountedBackoff(limits, new MemoryFailureCounts(), () => clock.now());
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const attempt = await backoff.attempt('k');
    waits.push(attempt.wait);
    if (attempt.wait > 0) await attempt.withdraw(); // refused: no failure
  }
  // Three free failures, the fourth counted too, then 2 s after the last: the fifth is refused and withdrawn.
  assert.deepEqual(waits, [0, 0, 0, 0, 2]);
  clock.advance(2);
  assert.equal((await backoff.attempt('k')).wait, 0, 'the refused attempt did not lengthen the wait');
  // A success taken back leaves the count as it was; another key is untouched.
  assert.equal((await backoff.attempt('other')).wait, 0);
});

test('a burst in flight at once: attempts count against each other, so no more are checked than one by one', async () => {
  const clock = new FakeClock();
  const backoff = new CountedBackoff(limits, new MemoryFailureCounts(), () => clock.now());
  const burst = await Promise.all(Array.from({ length: 20 }, () => backoff.attempt('k')));
  const checked = burst.filter((a) => a.wait === 0);
  assert.ok(checked.length <= limits.freeFailures + 1, `${checked.length} of the burst checked`);
  await Promise.all(burst.filter((a) => a.wait > 0).map((a) => a.withdraw()));
  // The refused ones are gone; what was checked (and failed) stays counted.
  const next = await backoff.attempt('k');
  assert.equal(next.wait > 0, checked.length > limits.freeFailures);
});

test('clear ends the slow-down; sweep forgets what aged out', async () => {
  const clock = new FakeClock();
  const counts = new MemoryFailureCounts();
  const backoff = new CountedBackoff(limits, counts, () => clock.now());
  for (let i = 0; i < 6; i++) await backoff.attempt('k');
  assert.ok((await backoff.attempt('k')).wait > 0);
  await backoff.clear('k');
  assert.equal((await backoff.attempt('k')).wait, 0);
  clock.advance(3601);
  await backoff.sweep();
  assert.deepEqual(await counts.recent('k', 0), []);
});

test('a failure counts from the end of its check, however long the check took', async () => {
  const clock = new FakeClock();
  const backoff = new CountedBackoff({ ...limits, freeFailures: 0 }, new MemoryFailureCounts(), () => clock.now());
  const slow = await backoff.attempt('k');
  clock.advance(1); // a password check that waited in a busy queue
  await slow.fail();
  assert.equal((await backoff.attempt('k')).wait, 2, 'the full 2 s from when the failure was known');
});
