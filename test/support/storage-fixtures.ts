// Rows the storage tests write: a pending device authorization and the grant its approval creates.
import type { DeviceAuthorization } from '../../src/device-flow/device-authorization.js';
import type { Grant } from '../../src/grants/grant.js';
import type { RequestOrigin } from '../../src/oauth/request-origin.js';
import { uuidv7 } from '../../src/shared/ids.js';

export const FIXTURE_NOW = 1_800_000_000;

/** A pending request of tether-cli from `requester`, made at FIXTURE_NOW and live for 300 s. */
export function pendingAuthorization(requester: RequestOrigin, overrides: Partial<DeviceAuthorization> = {}): DeviceAuthorization {
  const id = uuidv7();
  return {
    id,
    deviceCodeHash: `hash-${id}`,
    userCode: `CODE${id.slice(-8)}`,
    clientId: 'tether-cli',
    scopes: ['read', 'write'],
    resource: 'https://api.example',
    requester,
    dpopJkt: null,
    deviceJkt: null,
    environment: null,
    interval: 5,
    createdAt: FIXTURE_NOW,
    expiresAt: FIXTURE_NOW + 300,
    status: 'pending',
    decidedAt: null,
    approverUserId: null,
    approver: null,
    grantId: null,
    ...overrides,
  };
}

/** The grant alice's approval of `a` creates. */
export function grantFor(a: DeviceAuthorization, overrides: Partial<Grant> = {}): Grant {
  return {
    id: uuidv7(),
    userId: 'alice',
    clientId: a.clientId,
    deviceAuthorizationId: a.id,
    scopes: a.scopes,
    resource: a.resource,
    dpopJkt: null,
    deviceJkt: null,
    environment: null,
    authTime: FIXTURE_NOW,
    createdAt: FIXTURE_NOW,
    expiresAt: FIXTURE_NOW + 43_200,
    idleTtl: 3600,
    ...overrides,
  };
}
