import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client, Resource } from './client.js';
import { resolveRequestedAccess } from './requested-access.js';

const api: Resource = { uri: 'https://api.example', name: 'API', scopes: ['read', 'write'], tier: 'low' };
const payroll: Resource = { uri: 'https://payroll.example', name: 'Payroll', scopes: ['read', 'admin'], tier: 'low' };
const resources = new Map([api, payroll].map((r) => [r.uri, r]));
const find = (uri: string) => resources.get(uri);
const client: Client = {
  id: 'c',
  name: 'C',
  type: 'public',
  grants: [],
  scopes: ['read', 'write'],
  resources: [api.uri, payroll.uri],
  defaultResource: api.uri,
  allowBearer: false,
  requireDpopBinding: false,
  authMethod: 'none',
  introspection: false,
};

test('no scope asked means every allowed scope the resource understands', () => {
  assert.deepEqual(resolveRequestedAccess(client, undefined, [], find).scopes, ['read', 'write']);
  assert.deepEqual(resolveRequestedAccess(client, undefined, [payroll.uri], find).scopes, ['read']);
});

test('scopes are only ever narrowed', () => {
  assert.deepEqual(resolveRequestedAccess(client, 'read', [], find).scopes, ['read']);
  assert.throws(() => resolveRequestedAccess(client, 'read admin', [payroll.uri], find), { code: 'invalid_scope' });
  assert.throws(() => resolveRequestedAccess(client, 'write', [payroll.uri], find), { code: 'invalid_scope' });
});

test('only configured resources; one at a time; absolute URIs', () => {
  assert.equal(resolveRequestedAccess(client, undefined, [payroll.uri], find).resource, payroll);
  assert.throws(() => resolveRequestedAccess(client, undefined, ['https://other.example'], find), { code: 'invalid_target' });
  assert.throws(() => resolveRequestedAccess(client, undefined, [api.uri, payroll.uri], find), { code: 'invalid_target' });
  assert.throws(() => resolveRequestedAccess(client, undefined, ['relative/path'], find), { code: 'invalid_target' });
  assert.throws(() => resolveRequestedAccess({ ...client, defaultResource: undefined }, undefined, [], find), {
    code: 'invalid_target',
  });
});
