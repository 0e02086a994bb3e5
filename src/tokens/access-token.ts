import { uuidv7 } from '../shared/ids.js';
import type { Grant } from '../grants/grant.js';
import { signCompactEs256 } from './compact-jws.js';
import type { SigningKeySource } from './signing-keys.js';

/** What an access token says about its grant. */
export interface AccessTokenSubject {
  grantId: string;
  userId: string;
  clientId: string;
  scopes: readonly string[];
  resource: string;
  dpopJkt: string | null;
  authTime: number;
  /**
   * The person's groups from the user directory at this issuance, stamped as the `groups` claim (RFC 9068
   * §2.2.3.1) so API policies can read `principal in Tether::Group::"..."` at the guard without asking the server.
   * Absent: no claim (a token for a workload, say).
   */
  groups?: readonly string[];
  /**
   * Further claims to carry, e.g. the device's trust (`device_class`, `device_enrolled`) for the guard's policy.
   * They never replace a claim Tether sets itself.
   */
  claims?: object;
}

/** What a token of `grant` says, with the scopes and key of this issuance. */
export function subjectOf(grant: Grant, scopes: readonly string[], dpopJkt: string | null): AccessTokenSubject {
  return {
    grantId: grant.id,
    userId: grant.userId,
    clientId: grant.clientId,
    scopes,
    resource: grant.resource,
    dpopJkt,
    authTime: grant.authTime,
  };
}

/** What only Tether sets in an access token. */
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'iat_ms', 'jti', 'cnf', 'client_id', 'scope', 'auth_time', 'sid', 'groups',
]);

/**
 * The private claim carrying the issue time to the millisecond. `iat` stays an integer (RFC 7519 §4.1.6 NumericDate
 * as every library reads it); a revocation statement cuts at a millisecond, so a guard compares this claim with it
 * and a token issued in the same second as a revocation, but after it, is not caught by it.
 */
export const IAT_MS_CLAIM = 'iat_ms';

export interface MintedAccessToken {
  token: string;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  expiresIn: number;
}

/**
 * Mints a JWT access token (RFC 9068). `sid` names the grant so that one revocation statement about the grant
 * covers every token descended from it; `cnf.jkt` binds it to a DPoP key when there is one (RFC 9449 §6);
 * `groups` carries the person's groups for request-time policy (RFC 9068 §2.2.3.1).
 * `issuedAtMs` (default: the start of second `now`) is the stamp a revocation is compared with, see {@link IAT_MS_CLAIM}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2.3.1
 */
export async function mintAccessToken(
  keys: SigningKeySource,
  issuer: string,
  subject: AccessTokenSubject,
  ttl: number,
  now: number,
  issuedAtMs: number = now * 1000,
): Promise<MintedAccessToken> {
  const jti = uuidv7();
  // Claims are set one by one on one object (every token response mints one; spreads and Object.assign copied them
  // again on V8's slow path).
  const claims: Record<string, unknown> = {};
  if (subject.claims) for (const [name, value] of Object.entries(subject.claims)) if (!RESERVED_CLAIMS.has(name)) claims[name] = value;
  claims['client_id'] = subject.clientId;
  claims['scope'] = subject.scopes.join(' ');
  claims['auth_time'] = subject.authTime;
  claims['sid'] = subject.grantId;
  claims[IAT_MS_CLAIM] = issuedAtMs;
  if (subject.dpopJkt) claims['cnf'] = { jkt: subject.dpopJkt };
  // Always an array when known, even empty: "in no group" must not read as "the issuer did not say".
  if (subject.groups) claims['groups'] = [...new Set(subject.groups)];
  claims['iss'] = issuer;
  claims['sub'] = subject.userId;
  claims['aud'] = subject.resource;
  claims['iat'] = now;
  claims['exp'] = now + ttl;
  claims['jti'] = jti;
  const { kid, alg, key } = keys.signingKey;
  const token = signCompactEs256({ alg, typ: 'at+jwt', kid }, claims, key);
  return { token, jti, issuedAt: now, expiresAt: now + ttl, expiresIn: ttl };
}
