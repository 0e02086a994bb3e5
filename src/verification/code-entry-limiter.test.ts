import assert from 'node:assert/strict';
import { test } from 'node:test';
import { USER_CODE_SPACE } from '../device-flow/user-code.js';
import { CodeEntryLimiter } from './code-entry-limiter.js';

const limits = { perIpFailures: 3, perSessionFailures: 2, window: 60, codeLifetime: 300, maxGuessProbability: 2 ** -32 };

test('the global budget keeps an attacker under the target probability', () => {
  const limiter = new CodeEntryLimiter(limits, () => 0);
  for (const live of [1, 2, 5]) {
    const budget = limiter.globalBudget(live);
    assert.ok((budget * live) / USER_CODE_SPACE < 2 ** -32, `live=${live} budget=${budget}`);
    assert.ok(((budget + 1) * live) / USER_CODE_SPACE >= 2 ** -32, `live=${live}: the budget is the largest that fits`);
  }
  assert.equal(limiter.globalBudget(1), 5);
  // Beyond five live codes the exact bound allows no failure at all; one is the floor, so correct codes get in.
  assert.equal(limiter.globalBudget(6), 1);
  assert.equal(limiter.globalBudget(100), 1);
});

test('per-session limit, then per-IP limit, each with a retry time', () => {
  let now = 1000;
  const limiter = new CodeEntryLimiter({ ...limits, maxGuessProbability: 0.5 }, () => now);
  limiter.recordFailure('1.1.1.1', 's1');
  limiter.recordFailure('1.1.1.1', 's1');
  assert.deepEqual(limiter.check('1.1.1.1', 's1', 1), { limitedBy: 'session', retryAfter: 60 });
  assert.equal(limiter.check('1.1.1.1', 's2', 1), undefined);
  limiter.recordFailure('1.1.1.1', 's2');
  assert.equal(limiter.check('1.1.1.1', 's3', 1)?.limitedBy, 'ip');
  assert.equal(limiter.check('2.2.2.2', 's4', 1), undefined);
  now += 61;
  assert.equal(limiter.check('1.1.1.1', 's1', 1), undefined);
});

test('when the global budget is spent, entry pauses for everyone until failures age out', () => {
  let now = 1000;
  const limiter = new CodeEntryLimiter({ ...limits, perIpFailures: 100, perSessionFailures: 100 }, () => now);
  for (let i = 0; i < 5; i++) limiter.recordFailure(`10.0.0.${i}`, `s${i}`);
  const refusal = limiter.check('192.0.2.1', 'fresh', 1);
  assert.equal(refusal?.limitedBy, 'global');
  assert.equal(limiter.check('192.0.2.1', 'fresh', 10)?.limitedBy, 'global');
  now += 301;
  assert.equal(limiter.check('192.0.2.1', 'fresh', 1), undefined);
});
