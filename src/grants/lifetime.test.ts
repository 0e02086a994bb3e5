import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client, Resource } from '../clients/client.js';
import type { PolicyAllow } from '../policy/types.js';
import { boundLifetimes, lifetimesFor } from './lifetime.js';

const client: Client = {
  id: 'c', name: 'C', type: 'public', grants: [], scopes: [], resources: [],
  allowBearer: false, requireDpopBinding: false, authMethod: 'none', introspection: false,
};
const resource: Resource = { uri: 'https://api.example', name: 'API', scopes: [], tier: 'low' };
const defaults = { accessTokenTtl: 600, grantIdleTtl: 3600, grantMaxTtl: 43200 };

test('without limits, the server defaults apply', () => {
  assert.deepEqual(lifetimesFor(defaults, client, resource), defaults);
});

test('the shortest of server, client and resource wins, per lifetime', () => {
  const lifetimes = lifetimesFor(
    defaults,
    { ...client, accessTokenTtl: 300, grantMaxTtl: 7200 },
    { ...resource, accessTokenTtl: 120, grantIdleTtl: 900, grantMaxTtl: 86400 },
  );
  assert.deepEqual(lifetimes, { accessTokenTtl: 120, grantIdleTtl: 900, grantMaxTtl: 7200 });
});

test('a client or resource can never lengthen a lifetime beyond the server default', () => {
  assert.equal(lifetimesFor(defaults, { ...client, accessTokenTtl: 99999 }, resource).accessTokenTtl, 600);
});

test('lifetimes are the shortest of the configured limits and the policy', () => {
  const configured = { accessTokenTtl: 3600, grantIdleTtl: 86400, grantMaxTtl: 7 * 86400 };
  const allow: PolicyAllow = { decision: 'allow', reasons: [], scopes: [] };
  assert.deepEqual(boundLifetimes(configured, allow), configured);
  assert.deepEqual(boundLifetimes(configured, { ...allow, ttl: 300, refreshTtl: 3600 }), { accessTokenTtl: 300, grantIdleTtl: 3600, grantMaxTtl: 3600 });
  assert.deepEqual(boundLifetimes({ ...configured, accessTokenTtl: 60 }, { ...allow, ttl: 300 }).accessTokenTtl, 60, 'policy never lengthens');
});
