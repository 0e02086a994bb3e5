import type { Authentication } from '../users/user.js';

/**
 * What one approval creates: user, client, device key, scopes, resource and lifetimes. The grant is the unit of
 * provenance (every token names it in `sid`) and of revocation (ending it ends every token descended from it).
 */
export interface Grant {
  id: string;
  userId: string;
  clientId: string;
  deviceAuthorizationId: string;
  scopes: string[];
  resource: string;
  /** The DPoP key every token of this grant is bound to; set at approval or at first redemption. */
  dpopJkt: string | null;
  /** The device key that vouched for the login (see DeviceAuthorization.deviceJkt); policy asks about it at refresh. */
  deviceJkt: string | null;
  /** What the device declared about where it runs when it asked, carried for policy at refresh. */
  environment: string | null;
  authTime: number;
  /** How the approver signed in, for policy at issuance and refresh; absent on grants from before 0004-sso. */
  authentication?: Authentication;
  createdAt: number;
  /** Absolute end, however the grant is used. */
  expiresAt: number;
  /** A grant not refreshed for this many seconds ends. */
  idleTtl: number;
}

export interface GrantRecord extends Grant {
  status: 'active' | 'revoked';
  revokedAt: number | null;
  revokedBy: string | null;
  revokedReason: string | null;
}

export interface GrantStore {
  findGrant(id: string): Promise<GrantRecord | undefined>;
}
