import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiRequestInput } from './api-input.js';
import { PolicyEngine } from './engine.js';

test('a verified token and request become the API step input, device trust taken from the claims', () => {
  const claims = {
    sub: 'alice',
    client_id: 'tether-cli',
    scope: 'deploy read',
    iat: 1_800_000_000,
    cnf: { jkt: 'jkt-1' },
    device_class: 'managed',
    device_enrolled: true,
  };
  const input = apiRequestInput({
    claims,
    method: 'POST',
    url: 'https://prod.example.com/v1/deployments?dry_run=1',
    ip: '203.0.113.20',
    resource: { uri: 'https://prod.example.com', tier: 'high' },
    now: 1_800_000_060,
  });
  assert.deepEqual(input.device, { jkt: 'jkt-1', class: 'managed', enrolled: true });
  assert.equal(input.path, '/v1/deployments');
  assert.deepEqual(input.scopes, ['deploy', 'read']);
  const engine = PolicyEngine.withDefaultPack();
  assert.equal(engine.decide(input).decision, 'allow');
  const stripped = apiRequestInput({ claims: { ...claims, device_class: undefined }, method: 'GET', url: '/x', ip: '::1', resource: input.resource, now: 1 });
  assert.equal(stripped.device.class, 'unmanaged');
  assert.equal(engine.decide(stripped).decision, 'deny');
});
