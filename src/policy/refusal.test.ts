import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessDenied, InvalidGrant, InvalidScope, UnauthorizedClient } from '../oauth/errors.js';
import { apiRefusal, policyRefusal } from './refusal.js';
import type { PolicyDeny } from './types.js';

const forbidden: PolicyDeny = { decision: 'deny', reasons: ['x'], cause: 'forbidden', message: 'Use a managed device.' };
const noScope: PolicyDeny = { ...forbidden, cause: 'no_scope', message: 'No scope left.' };

test('each step ends with its RFC error and the person-readable reason', () => {
  const device = policyRefusal('device_authorization', forbidden);
  assert.ok(device instanceof UnauthorizedClient);
  assert.deepEqual(device.toJSON(), { error: 'unauthorized_client', error_description: 'Use a managed device.' });
  assert.ok(policyRefusal('approval', forbidden) instanceof AccessDenied);
  assert.ok(policyRefusal('issuance', forbidden) instanceof AccessDenied);
  assert.ok(policyRefusal('refresh', forbidden) instanceof InvalidGrant);
  assert.ok(policyRefusal('device_authorization', noScope) instanceof InvalidScope);
  assert.ok(policyRefusal('refresh', noScope) instanceof InvalidScope);
  assert.ok(policyRefusal('approval', noScope) instanceof AccessDenied);
  assert.deepEqual(apiRefusal(forbidden), { status: 403, error: 'insufficient_scope', description: 'Use a managed device.' });
});
