import assert from 'node:assert/strict';
import { test } from 'node:test';
import { declaredClass, describeDevice, deviceClaims, deviceFacts, deviceFromClaims, InMemoryDeviceRegistry } from './device-trust.js';

test('a key is unmanaged until an administrator approves it, and again once revoked', async () => {
  const registry = new InMemoryDeviceRegistry();
  assert.equal((await deviceFacts(registry, 'jkt-1')).class, 'unmanaged');
  const pending = await registry.enroll({ jkt: 'jkt-1', name: 'alice-laptop', requestedClass: 'managed', now: 100 });
  assert.equal(pending.status, 'pending');
  assert.deepEqual(await deviceFacts(registry, 'jkt-1'), { jkt: 'jkt-1', class: 'unmanaged', enrolled: false });

  const approved = await registry.approve('jkt-1', { by: 'admin', now: 200 });
  assert.equal(approved?.class, 'managed');
  assert.deepEqual(await deviceFacts(registry, 'jkt-1'), { jkt: 'jkt-1', class: 'managed', enrolled: true });

  // Enrolling an approved key again cannot reset or change it.
  await registry.enroll({ jkt: 'jkt-1', name: 'renamed', requestedClass: 'jump_host', now: 300 });
  assert.equal((await registry.get('jkt-1'))?.class, 'managed');

  await registry.revoke('jkt-1', { by: 'admin', now: 400 });
  assert.deepEqual(await deviceFacts(registry, 'jkt-1'), { jkt: 'jkt-1', class: 'unmanaged', enrolled: false });
  assert.equal(await registry.approve('unknown', { by: 'admin', now: 1 }), undefined);
});

test('an approver may choose the class; an attestation vouches at once', async () => {
  const registry = new InMemoryDeviceRegistry();
  await registry.enroll({ jkt: 'jkt-2', name: 'bastion', requestedClass: 'managed', now: 1 });
  await registry.approve('jkt-2', { by: 'admin', now: 2, class: 'jump_host' });
  assert.deepEqual(await registry.classOf('jkt-2'), { class: 'jump_host', trust: 'admin' });

  const attested = await registry.attest('jkt-3', { verifier: 'mdm', class: 'managed', name: 'mac-17', now: 3 });
  assert.equal(attested.trust, 'attestation');
  assert.deepEqual(await registry.classOf('jkt-3'), { class: 'managed', trust: 'attestation' });
  assert.equal((await registry.list()).length, 2);
});

test('what a device declares can only lower its trust', () => {
  const trusted = { class: 'managed', trust: 'admin' } as const;
  assert.equal(describeDevice('k', trusted, 'automation').class, 'automation');
  assert.equal(describeDevice('k', trusted, 'jump_host').class, 'jump_host');
  assert.equal(describeDevice('k', trusted, 'unmanaged').class, 'unmanaged', 'a device saying it is less trusted is believed');
  assert.equal(describeDevice('k', undefined, 'managed').class, 'unmanaged', 'a claim of being managed is not believed');
  assert.equal(describeDevice('k', { class: 'automation', trust: 'admin' }, 'jump_host').class, 'automation');
  assert.equal(describeDevice('k', undefined, 'laptop').class, 'unmanaged', 'free text leaves the class alone');
  assert.equal(declaredClass(' Automation '), 'automation');
  // Without a key there is nothing to look up or trust.
  assert.deepEqual(describeDevice(null, trusted), { jkt: null, class: 'unmanaged', enrolled: false });
});

test('the device claims survive the trip through a token, and a token without them is unmanaged', () => {
  const device = describeDevice('jkt-9', { class: 'managed', trust: 'attestation' });
  const claims = { sub: 'alice', cnf: { jkt: 'jkt-9' }, ...deviceClaims(device) };
  assert.deepEqual(deviceClaims(device), { device_class: 'managed', device_enrolled: true, device_jkt: 'jkt-9' });
  assert.deepEqual(deviceFromClaims(claims), device);
  // A device key that vouched for the login is the device, not the token's key; but only on a bound token.
  const vouched = { cnf: { jkt: 'login-key' }, ...deviceClaims(device) };
  assert.equal(deviceFromClaims(vouched).jkt, 'jkt-9');
  assert.equal(deviceFromClaims({ device_jkt: 'jkt-9', device_class: 'managed', device_enrolled: true }).jkt, null);
  assert.equal(deviceFromClaims({ device_jkt: 'jkt-9', device_class: 'managed', device_enrolled: true }).enrolled, false);
  assert.deepEqual(deviceFromClaims({ sub: 'alice' }), { jkt: null, class: 'unmanaged', enrolled: false });
  assert.equal(deviceFromClaims({ cnf: { jkt: 'x' }, device_class: 'root' }).class, 'unmanaged');
});
