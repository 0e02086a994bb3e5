import type { AuditEventInput } from '../audit/event.js';

/**
 * An access token as issued: known by its jti, always belonging to one grant. It is not stored. The token is a JWT
 * signed by this server whose `sid` names the grant, so introspection, `tether status` and RFC 7009 revocation read
 * the grant from the verified claims; a row per token would only repeat them (and grew without end).
 */
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

/**
 * Tokens issued at once: an access token, and a refresh token for clients that get them. Storage records the refresh
 * token (by its hash) in the transaction that claims the code or retires the old token; the access token's fields are
 * for that transaction's audit event and key binding.
 */
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
}

/** What one step of {@link RefreshTokenPruning.pruneEndedGrants} did. */
export interface PruningStep {
  /** Grants passed (their refresh tokens, if they had any, deleted). */
  grants: number;
  refreshTokens: number;
  /** True when the step stopped at its limit: ended grants may be left for the next step. */
  more: boolean;
}

/** Deleting what no request can use any more (tokens/refresh-token-retention.ts decides when). */
export interface RefreshTokenPruning {
  /**
   * Deletes the refresh tokens of at most `limit` grants whose absolute end (`expires_at`) is before `endedBefore`,
   * walking grants in the order they end (then by id) from where the previous step stopped. A grant's end never
   * changes, so each grant is passed once, whatever its id or lifetime.
   */
  pruneEndedGrants(endedBefore: number, limit: number): Promise<PruningStep>;
  /** Deletes at most `limit` rows an earlier version wrote to `access_tokens` that expired before `before`. */
  pruneLegacyAccessTokens(before: number, limit: number): Promise<number>;
}
