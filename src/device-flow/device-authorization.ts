/** The context a request arrived with: where from and with what software. */
export interface RequestContext {
  ip: string;
  userAgent: string;
}

export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

/** One RFC 8628 request, as stored: never the device code itself, only its hash. */
export interface DeviceAuthorization {
  id: string;
  deviceCodeHash: string;
  /** Normalized (no dash). */
  userCode: string;
  clientId: string;
  scopes: string[];
  resource: string;
  requester: RequestContext;
  /** The DPoP key thumbprint the device code is bound to, if any (RFC 9449 §10). */
  dpopJkt: string | null;
  interval: number;
  createdAt: number;
  expiresAt: number;
  status: DeviceAuthorizationStatus;
  decidedAt: number | null;
  approverUserId: string | null;
  approver: RequestContext | null;
  grantId: string | null;
}

/** What one approval creates: the unit of provenance and, later, of revocation. */
export interface Grant {
  id: string;
  userId: string;
  clientId: string;
  deviceAuthorizationId: string;
  scopes: string[];
  resource: string;
  dpopJkt: string | null;
  authTime: number;
  createdAt: number;
}

export interface IssuedAccessToken {
  jti: string;
  grantId: string;
  issuedAt: number;
  expiresAt: number;
}

/** What the device flow needs from storage. Implemented by the storage layer. */
export interface DeviceAuthorizationStore {
  /** Inserts; returns false when the user code collides with a stored one (the caller draws another). */
  create(authorization: DeviceAuthorization): Promise<boolean>;
  findByDeviceCodeHash(hash: string): Promise<DeviceAuthorization | undefined>;
  findByUserCode(userCode: string): Promise<DeviceAuthorization | undefined>;
  /** Approves a pending, unexpired authorization and creates its grant in one transaction. */
  approve(id: string, now: number, approver: RequestContext, grant: Grant): Promise<boolean>;
  /** Denies a pending, unexpired authorization. */
  deny(id: string, now: number, approverUserId: string, approver: RequestContext): Promise<boolean>;
  /**
   * Marks an approved authorization redeemed, binds its grant to the proof's key and records the token issued
   * for it, in one transaction; false when another poll redeemed it first.
   */
  redeem(id: string, token: IssuedAccessToken, dpopJkt: string | null): Promise<boolean>;
  countLive(now: number): Promise<number>;
  /** Deletes authorizations that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}
