import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { DeviceRequestLimits, DeviceRequestsLimited } from './request-limits.js';

const noCodes = { countLive: async () => 0 };

function refusedWait(limits: DeviceRequestLimits, ip: string): number {
  try {
    limits.admit(ip);
  } catch (error) {
    assert.ok(error instanceof DeviceRequestsLimited);
    return Number(error.headers['retry-after']);
  }
  return 0;
}

test('an address gets n requests per sliding window; the next waits for the oldest to age out', () => {
  const clock = new FakeClock(1_000);
  const limits = new DeviceRequestLimits({ perIpRequests: 3, window: 60, liveCodesPerIp: 99, liveCodesPerClient: 99 }, noCodes, clock);
  for (const at of [0, 10, 20]) {
    clock.advance(at - (clock.now() - 1_000));
    assert.equal(refusedWait(limits, '203.0.113.1'), 0, `request at ${at}s`);
  }
  clock.advance(10); // t = 30
  assert.equal(refusedWait(limits, '203.0.113.1'), 30);
  assert.equal(refusedWait(limits, '203.0.113.2'), 0, 'another address is not affected');
  clock.advance(29); // t = 59: refused requests did not count, so the oldest is still the one at 0
  assert.equal(refusedWait(limits, '203.0.113.1'), 1);
  clock.advance(1); // t = 60: the request at 0 has aged out
  assert.equal(refusedWait(limits, '203.0.113.1'), 0);
  clock.advance(1); // t = 61: the last three are at 10, 20, 60
  assert.equal(refusedWait(limits, '203.0.113.1'), 9);
});

test('sweep forgets addresses whose requests all aged out, and only those', () => {
  const clock = new FakeClock(1_000);
  const limits = new DeviceRequestLimits({ perIpRequests: 1, window: 60, liveCodesPerIp: 99, liveCodesPerClient: 99 }, noCodes, clock);
  limits.admit('203.0.113.1');
  clock.advance(30);
  limits.admit('203.0.113.2');
  clock.advance(30);
  limits.sweep();
  assert.equal(refusedWait(limits, '203.0.113.1'), 0, 'aged out and forgotten');
  assert.equal(refusedWait(limits, '203.0.113.2'), 30, 'still within its window');
});
