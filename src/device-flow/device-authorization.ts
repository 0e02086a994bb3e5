import type { AuditEventInput } from '../audit/event.js';
import type { Grant } from '../grants/grant.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { IssuedTokens } from '../tokens/token-store.js';

/** `abandoned`: the device gave up on the request (its person cancelled the login) before tokens were issued. */
export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'redeemed' | 'abandoned';

/** One RFC 8628 request, as stored: never the device code itself (`<id>.<secret>`), only its hash. */
export interface DeviceAuthorization {
  id: string;
  deviceCodeHash: string;
  /** Normalized (no dash). */
  userCode: string;
  clientId: string;
  scopes: string[];
  resource: string;
  requester: RequestOrigin;
  /** The DPoP key thumbprint the device code is bound to, if any (RFC 9449 §10). */
  dpopJkt: string | null;
  /**
   * The machine's device key, when a device statement (`tether_device_attestation`) vouched for `dpopJkt` with
   * it: the key policy asks the device registry about. Null without one: the DPoP key then stands for the device.
   */
  deviceJkt: string | null;
  /** What the device declared about where it runs (`tether_environment`), for policy; null if nothing. */
  environment: string | null;
  interval: number;
  createdAt: number;
  expiresAt: number;
  status: DeviceAuthorizationStatus;
  decidedAt: number | null;
  approverUserId: string | null;
  approver: RequestOrigin | null;
  grantId: string | null;
}

/**
 * What the device flow needs from storage. Implemented by the storage layer. Each state change takes the audit
 * events that record it and commits them in the same transaction.
 */
export interface DeviceAuthorizationStore {
  /** Inserts; returns false when the user code collides with a stored one (the caller draws another). */
  create(authorization: DeviceAuthorization, events: AuditEventInput[]): Promise<boolean>;
  /**
   * A request whose device code was handed out before codes named their row (no id in it), by the code's hash;
   * kept only while such a code can still be answered (storage migration 0008).
   */
  findByLegacyDeviceCodeHash(hash: string): Promise<DeviceAuthorization | undefined>;
  findByUserCode(userCode: string): Promise<DeviceAuthorization | undefined>;
  /** By primary key: the row a device code names. Reads committed rows only. */
  findById(id: string): Promise<DeviceAuthorization | undefined>;
  /** Approves a pending, unexpired authorization and creates its grant in one transaction. */
  approve(id: string, now: number, approver: RequestOrigin, grant: Grant, events: AuditEventInput[]): Promise<boolean>;
  /** Denies a pending, unexpired authorization. */
  deny(id: string, now: number, approverUserId: string, approver: RequestOrigin, events: AuditEventInput[]): Promise<boolean>;
  /**
   * Marks an approved authorization redeemed, binds its grant to the proof's key and records the tokens issued
   * for it, in one transaction; false when another poll redeemed it first.
   */
  redeem(id: string, tokens: IssuedTokens, dpopJkt: string | null, events: AuditEventInput[]): Promise<boolean>;
  /**
   * Marks a pending or approved (not yet redeemed) authorization abandoned, revoking the grant an approval
   * created, in one transaction; false when it was in neither state.
   */
  abandon(id: string, now: number, events: AuditEventInput[]): Promise<boolean>;
  /** Undecided, unexpired authorizations, all or those of one client or one requesting address. */
  countLive(now: number, of?: { clientId?: string; requesterIp?: string }): Promise<number>;
  /** Deletes authorizations that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
