import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toCedarRequest, type RequestEnvironment } from './cedar-request.js';
import { PolicyInputError } from './errors.js';
import { localTimeFunction } from './local-time.js';
import { NetworkClassifier } from './network.js';
import type { DeviceRequestInput } from './types.js';

const env: RequestEnvironment = {
  networks: new NetworkClassifier({ office: ['203.0.113.0/24'] }),
  localTime: localTimeFunction('Europe/Berlin'),
};

const input = (over: Partial<DeviceRequestInput> = {}): DeviceRequestInput => ({
  step: 'device_authorization',
  now: 1_800_000_000,
  client: { id: 'tether-cli' },
  resource: { uri: 'https://api.example.com', tier: 'high' },
  device: { jkt: 'jkt-1', class: 'managed', enrolled: true },
  scopes: ['read', 'write', 'read'],
  requester: { ip: '::ffff:203.0.113.9', userAgent: 'tether-cli/0.1' },
  environment: 'automation',
  ...over,
});

const ATTRIBUTES = ['client', 'device', 'scopes', 'hour', 'weekday', 'environment', 'ip', 'network', 'userAgent', 'notDeclared'];

test('a device request built for the attributes policies read is the full request cut to them', () => {
  const cases = [input(), input({ environment: undefined, device: { jkt: null, class: 'unmanaged', enrolled: false } }), input({ requester: { ip: '10.1.2.3' } })];
  for (const one of cases) {
    const full = toCedarRequest(one, env);
    // Every subset of the attributes, in several orders (the order of `reads` is the order of the context keys).
    for (let mask = 0; mask < 1 << ATTRIBUTES.length; mask += 7) {
      const reads = new Set(ATTRIBUTES.filter((_, i) => mask & (1 << i)));
      for (const order of [[...reads], [...reads].reverse()]) {
        const cut = toCedarRequest(one, { ...env, reads: new Set(order) });
        const context = Object.fromEntries(order.filter((k) => k in full.context).map((k) => [k, full.context[k]]));
        // Same keys in the same order, so equal requests still serialize equally (the engine's cache key).
        assert.equal(JSON.stringify(cut.context), JSON.stringify(context), [...order].join(','));
        assert.deepEqual(cut.principal, full.principal);
        assert.deepEqual(cut.resource, full.resource);
        const keptDevice = reads.has('device');
        assert.deepEqual(
          cut.entities.map((e) => e.uid),
          full.entities.filter((e) => keptDevice || !JSON.stringify(e.uid).includes('Tether::Device')).map((e) => e.uid),
        );
      }
    }
  }
});

test('a device request checks the address even when no policy reads it', () => {
  assert.throws(
    () => toCedarRequest(input({ requester: { ip: 'not-an-address' } }), { ...env, reads: new Set(['device']) }),
    (e: unknown) => e instanceof PolicyInputError && e.field === 'requester.ip',
  );
});
