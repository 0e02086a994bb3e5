import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InMemoryDeviceRegistry, type TrustedClass } from '../policy/device-trust.js';
import { CachedDeviceStore } from './cached-device-store.js';
import { trustOf, type DeviceStore } from './device-store.js';

/** The policy module's in-memory registry as a DeviceStore, counting reads of the approved set. */
function countingStore() {
  const registry = new InMemoryDeviceRegistry();
  let reads = 0;
  const store: DeviceStore = Object.assign(registry, {
    async approvedClasses() {
      reads++;
      const map = new Map<string, TrustedClass>();
      for (const r of await registry.list()) {
        const trust = trustOf(r);
        if (trust) map.set(r.jkt, trust);
      }
      return map;
    },
    async countPending() {
      return (await registry.list()).filter((r) => r.status === 'pending').length;
    },
  });
  return { store, reads: () => reads };
}

test('lookups are answered from memory: one read per TTL, however many keys are asked about', async () => {
  const { store, reads } = countingStore();
  let now = 0;
  const cached = new CachedDeviceStore(store, 10_000, () => now);
  await store.enroll({ jkt: 'a', name: 'a', requestedClass: 'managed', now: 1 });
  await store.approve('a', { by: 'admin', now: 1 });
  const answers = await Promise.all(['a', 'b', 'c', 'a'].map((k) => cached.classOf(k)));
  assert.deepEqual(answers.map((a) => a?.class), ['managed', undefined, undefined, 'managed']);
  assert.equal(reads(), 1, 'concurrent lookups share one read');
  now = 9_999;
  await cached.classOf('z');
  assert.equal(reads(), 1);
  now = 10_000;
  await cached.classOf('z');
  assert.equal(reads(), 2, 'read again after the TTL');
});

test('a change made through the cache counts at once; one made elsewhere after the TTL', async () => {
  const { store } = countingStore();
  let now = 0;
  const cached = new CachedDeviceStore(store, 10_000, () => now);
  await cached.enroll({ jkt: 'k', name: 'k', requestedClass: 'managed', now: 1 });
  assert.equal(await cached.classOf('k'), undefined, 'pending is not trusted');
  await cached.approve('k', { by: 'admin', now: 2, class: 'jump_host' });
  assert.deepEqual(await cached.classOf('k'), { class: 'jump_host', trust: 'admin' });
  await cached.revoke('k', { by: 'admin', now: 3 });
  assert.equal(await cached.classOf('k'), undefined);

  await store.approve('k', { by: 'other-server', now: 4 });
  assert.equal(await cached.classOf('k'), undefined, 'not yet seen');
  now = 10_000;
  assert.deepEqual(await cached.classOf('k'), { class: 'managed', trust: 'admin' });
});
