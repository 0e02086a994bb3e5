import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidDpopProof, SlowDown } from '../oauth/errors.js';
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

/** A witness whose signature holds or not, counting how often it was checked. */
function witness(holds: boolean) {
  const w = { checks: 0, signatureHolds: () => (w.checks++, holds) };
  return w;
}

test("a bound code's polls on time are never checked; a poll too soon is, and so is the one before it", () => {
  const clock = new FakeClock(0);
  const pacer = new PollPacer(clock);
  const first = witness(true);
  pacer.poll('a', 5, 1000, first);
  clock.advance(5);
  const second = witness(true);
  pacer.poll('a', 5, 1000, second);
  assert.equal(first.checks + second.checks, 0);
  clock.advance(1);
  const early = witness(true);
  assert.throws(() => pacer.poll('a', 5, 1000, early), SlowDown);
  assert.deepEqual([early.checks, second.checks], [1, 1]);
  assert.equal(pacer.intervalFor('a'), 10);
});

test('a forged poll too soon is refused and recorded nowhere; a forged poll before the device does not pace it', () => {
  const clock = new FakeClock(0);
  const pacer = new PollPacer(clock);
  pacer.poll('a', 5, 1000, witness(true));
  clock.advance(1);
  // The thief, too soon: refused as a bad proof, and the device's next poll on time is still on time.
  assert.throws(() => pacer.poll('a', 5, 1000, witness(false)), (e) => e instanceof InvalidDpopProof);
  clock.advance(4);
  pacer.poll('a', 5, 1000, witness(true));
  // The thief, on time, just before the device: answered like any poll on time, but it does not count.
  clock.advance(5);
  pacer.poll('a', 5, 1000, witness(false));
  clock.advance(0.1);
  pacer.poll('a', 5, 1000, witness(true));
  assert.equal(pacer.intervalFor('a'), 5);
  // A device that itself polls too soon is still slowed down.
  clock.advance(1);
  assert.throws(() => pacer.poll('a', 5, 1000, witness(true)), SlowDown);
});
