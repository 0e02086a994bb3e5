import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PolicyInputError } from './errors.js';
import { NetworkClassifier, normalizeIp } from './network.js';

test('addresses are named by configured networks first, then loopback, private or public', () => {
  const networks = new NetworkClassifier({ office: ['203.0.113.0/24', '2001:db8:10::/48'], vpn: ['10.8.0.0/16'] });
  assert.equal(networks.classify('203.0.113.7'), 'office');
  assert.equal(networks.classify('2001:db8:10:5::1'), 'office');
  assert.equal(networks.classify('10.8.3.4'), 'vpn');
  assert.equal(networks.classify('10.9.3.4'), 'private');
  assert.equal(networks.classify('127.0.0.1'), 'loopback');
  assert.equal(networks.classify('::1'), 'loopback');
  assert.equal(networks.classify('198.51.100.1'), 'public');
});

test('one network: the same /24 or /64, or one configured network', () => {
  const networks = new NetworkClassifier({ office: ['10.20.0.0/16'] });
  assert.ok(networks.same('203.0.113.5', '203.0.113.200'));
  assert.ok(networks.same('10.20.1.1', '10.20.200.1'));
  assert.ok(!networks.same('10.30.1.1', '10.40.1.1'), 'two private networks are not one');
  assert.ok(!networks.same('203.0.113.5', '198.51.100.5'));
});

test('addresses are normalized for Cedar and bad ones name their field', () => {
  assert.equal(normalizeIp('ip', '::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeIp('ip', 'fe80::1%eth0'), 'fe80::1');
  assert.throws(() => normalizeIp('requester.ip', 'localhost'), (e: unknown) => e instanceof PolicyInputError && e.field === 'requester.ip');
  assert.throws(() => new NetworkClassifier({ office: ['10.0.0.0/'] }), (e: unknown) => e instanceof PolicyInputError && e.field === 'networks.office');
  assert.throws(() => new NetworkClassifier({ office: ['10.0.0.0/33'] }), PolicyInputError);
});

test('ranges match on any prefix length, IPv4 and IPv6 alike', () => {
  const networks = new NetworkClassifier({ a: ['192.0.2.128/25'], b: ['2001:db8:abcd:12::/63'], c: ['198.51.100.7'], d: ['::ffff:0:0/96'] });
  assert.equal(networks.classify('192.0.2.200'), 'a');
  assert.equal(networks.classify('192.0.2.127'), 'public');
  assert.equal(networks.classify('2001:db8:abcd:13:1::1'), 'b');
  assert.equal(networks.classify('2001:db8:abcd:14::1'), 'public');
  assert.equal(networks.classify('198.51.100.7'), 'c');
  assert.equal(networks.classify('198.51.100.8'), 'public');
  assert.equal(networks.classify('172.31.255.255'), 'private');
  assert.equal(networks.classify('172.32.0.1'), 'public');
  assert.equal(networks.classify('fd12::1'), 'private');
});
