import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Client, Resource } from '../clients/client.js';
import type { Grant } from '../device-flow/device-authorization.js';
import { SIGNING_ALG, type KeyRing } from './signing-keys.js';

export interface AccessTokenPolicy {
  /** The server-wide default lifetime, in seconds. */
  defaultTtl: number;
}

export interface MintedAccessToken {
  token: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  expiresIn: number;
}

/** The shortest of the server default, the client's and the resource's limits. */
export function accessTokenTtl(policy: AccessTokenPolicy, client: Client, resource: Resource): number {
  return Math.min(policy.defaultTtl, client.accessTokenTtl ?? Infinity, resource.accessTokenTtl ?? Infinity);
}

/**
 * Mints a JWT access token (RFC 9068). `sid` names the grant so that one revocation statement about the grant
 * covers every token descended from it; `cnf.jkt` binds it to a DPoP key when there is one (RFC 9449 §6).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export async function mintAccessToken(
  keys: KeyRing,
  issuer: string,
  grant: Grant,
  ttl: number,
  now: number,
): Promise<MintedAccessToken> {
  const jti = randomUUID();
  const claims: Record<string, unknown> = {
    client_id: grant.clientId,
    scope: grant.scopes.join(' '),
    auth_time: grant.authTime,
    sid: grant.id,
  };
  if (grant.dpopJkt) claims['cnf'] = { jkt: grant.dpopJkt };
  const { kid, key } = keys.signingKey;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setSubject(grant.userId)
    .setAudience(grant.resource)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(jti)
    .sign(key);
  return { token, jti, issuedAt: now, expiresAt: now + ttl, expiresIn: ttl };
}
