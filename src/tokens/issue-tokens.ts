import type { AuditEventInput } from '../audit/event.js';
import type { Client } from '../clients/client.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { REFRESH_TOKEN_GRANT } from '../oauth/grant-types.js';
import type { TokenResponse } from '../grant-types/grant-type.js';
import { hashSecret } from '../shared/crypto.js';
import { mintAccessToken, type AccessTokenSubject } from './access-token.js';
import { generateRefreshToken } from './refresh-token-format.js';
import type { KeyRing } from './signing-keys.js';
import type { IssuedTokens } from './token-store.js';

export interface Issuance {
  /** What the client receives. */
  response: TokenResponse;
  /** What storage records: the access token's jti and only the refresh token's hash. */
  issued: IssuedTokens;
}

/**
 * Mints the tokens of one token response: the access token, and a refresh token when the client may use the
 * refresh_token grant. The refresh token lives until the grant's idle timeout or its absolute end, whichever
 * comes first. Nothing is stored here: the caller records `issued` in the same transaction as its single-use claim.
 */
export async function issueTokens(opts: {
  keys: KeyRing;
  issuer: string;
  client: Client;
  subject: AccessTokenSubject;
  accessTokenTtl: number;
  grant: { expiresAt: number; idleTtl: number };
  parentRefreshHash: string | null;
  now: number;
  /** The issuance stamp in milliseconds (`stampMs`), taken before the grant was checked; default `now * 1000`. */
  issuedAtMs?: number;
}): Promise<Issuance> {
  const { now, subject, grant } = opts;
  // The access token never outlives its grant.
  const ttl = Math.max(1, Math.min(opts.accessTokenTtl, grant.expiresAt - now));
  const access = await mintAccessToken(opts.keys, opts.issuer, subject, ttl, now, opts.issuedAtMs);
  const response: TokenResponse = {
    access_token: access.token,
    token_type: subject.dpopJkt ? 'DPoP' : 'Bearer',
    expires_in: access.expiresIn,
    scope: subject.scopes.join(' '),
  };
  const issued: IssuedTokens = {
    access: { jti: access.jti, grantId: subject.grantId, issuedAt: now, expiresAt: access.expiresAt },
  };
  if (opts.client.grants.includes(REFRESH_TOKEN_GRANT)) {
    const refresh = generateRefreshToken();
    response.refresh_token = refresh;
    issued.refresh = {
      hash: hashSecret(refresh),
      grantId: subject.grantId,
      parentHash: opts.parentRefreshHash,
      issuedAt: now,
      expiresAt: Math.min(now + grant.idleTtl, grant.expiresAt),
    };
  }
  return { response, issued };
}

/** What the grant type adds to an issuance's event. */
export interface IssuanceEventExtra {
  /** The device authorization a redemption used up (issuance only). */
  device_authorization_id?: string;
  /** The refresh token a rotation retired (refresh only). */
  previous_refresh_token_hash?: string;
  device_class: string;
  /** The policies that decided. */
  policy: string[];
}

/**
 * The audit event of an issuance: which tokens (by jti and hash), to whom, bound to which key, for how long.
 * Its `data` is written with its keys in code-unit order, the order the hash chain's canonical JSON sorts them
 * into: a value already in that shape is serialized by the native JSON.stringify (audit/hash-chain.ts), which
 * writes the same text as sorting would, at a fraction of the cost, on every token response. An absent key is
 * undefined, which both leave out.
 */
export function issuanceEvent(
  type: 'token.issued' | 'token.refreshed',
  subject: AccessTokenSubject,
  issuance: Issuance,
  context: RequestOrigin,
  now: number,
  extra: IssuanceEventExtra,
): AuditEventInput {
  const { access, refresh } = issuance.issued;
  return {
    type,
    at: now,
    userId: subject.userId,
    clientId: subject.clientId,
    grantId: subject.grantId,
    jti: access.jti,
    jkt: subject.dpopJkt,
    parent: type === 'token.issued' ? { type: 'device.approved', grantId: subject.grantId } : { type: 'token.issued', grantId: subject.grantId },
    data: {
      device_authorization_id: extra.device_authorization_id,
      device_class: extra.device_class,
      expires_at: access.expiresAt,
      ip: context.ip,
      policy: extra.policy,
      previous_refresh_token_hash: extra.previous_refresh_token_hash,
      refresh_expires_at: refresh?.expiresAt ?? null,
      refresh_token_hash: refresh?.hash ?? null,
      resource: subject.resource,
      scopes: subject.scopes,
      token_type: issuance.response.token_type,
      ttl: access.expiresAt - access.issuedAt,
      user_agent: context.userAgent,
    },
  };
}
