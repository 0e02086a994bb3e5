import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameNetwork } from './network.js';

test('same /24 or /64 counts as one network; others do not', () => {
  assert.ok(sameNetwork('203.0.113.5', '203.0.113.200'));
  assert.ok(!sameNetwork('203.0.113.5', '198.51.100.7'));
  assert.ok(sameNetwork('::ffff:203.0.113.5', '203.0.113.9'));
  assert.ok(sameNetwork('2001:db8:1:2::1', '2001:db8:1:2:ffff::9'));
  assert.ok(!sameNetwork('2001:db8:1:2::1', '2001:db8:1:3::1'));
  assert.ok(!sameNetwork('203.0.113.5', '2001:db8::1'));
});

test('loopback addresses are one network', () => {
  assert.ok(sameNetwork('127.0.0.1', '::1'));
  assert.ok(sameNetwork('::ffff:127.0.0.1', '127.0.0.2'));
});
