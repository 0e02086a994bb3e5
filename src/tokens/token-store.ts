import type { AuditEventInput } from '../audit/event.js';

/** An access token as recorded: known by its jti, always belonging to one grant. */
export interface IssuedAccessToken {
  jti: string;
  grantId: string;
  issuedAt: number;
  expiresAt: number;
}

/** A refresh token as recorded: only its hash. Tokens of a grant form a chain through parentHash. */
export interface IssuedRefreshToken {
  hash: string;
  grantId: string;
  parentHash: string | null;
  issuedAt: number;
  expiresAt: number;
}

export interface StoredRefreshToken extends IssuedRefreshToken {
  status: 'active' | 'rotated' | 'revoked';
}

/** Tokens issued at once: an access token, and a refresh token for clients that get them. */
export interface IssuedTokens {
  access: IssuedAccessToken;
  refresh?: IssuedRefreshToken;
}

export interface TokenStore {
  findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined>;
  /**
   * Marks the old refresh token rotated and records its successors, in one transaction. False when the old one
   * was no longer active (rotated or revoked by a concurrent request).
   */
  rotateRefreshToken(oldHash: string, next: Required<IssuedTokens>, events: AuditEventInput[]): Promise<boolean>;
  findAccessToken(jti: string): Promise<IssuedAccessToken | undefined>;
}
