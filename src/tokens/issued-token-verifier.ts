import type { JWTPayload } from 'jose';
import { decodeSegment, splitCompactJws, verifyJws } from '../dpop/jws.js';
import { SIGNING_ALG, type KeyRing } from './signing-keys.js';

/** Claims every access token of this server carries as strings; `sid` names its grant. */
const REQUIRED_TEXT_CLAIMS = ['jti', 'sid', 'sub'] as const;

/**
 * The claims of a verified access token. `sid` is the grant the token belongs to: the token is not stored (see
 * IssuedAccessToken in token-store.ts), and the signature is what makes this claim the server's own word.
 */
export type VerifiedAccessToken = JWTPayload & { jti: string; sid: string; sub: string; exp: number };

/**
 * The server's check that an access token is one it issued (for introspection and revocation): signed by a
 * published key, typ at+jwt, our issuer. Expiry is checked against the injected clock. Returns the claims, or
 * undefined for anything else. Keys are looked up at each call, so a rotated-in key verifies as soon as it is
 * published and a retired one stops at once. A resource server uses the guard's `AccessTokenVerifier` instead,
 * which also binds the token to its audience and proof.
 *
 * Synchronous on node:crypto (`dpop/jws.ts`, the verifier the guard uses too) rather than jose's WebCrypto path,
 * whose thread round trip cost more than the signature check on every introspection; the checks are jose's
 * jwtVerify ones that apply: header typ and alg, no critical extensions, signature, iss, exp, nbf, required claims.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export class IssuedTokenVerifier {
  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  async verify(token: string, now: number): Promise<VerifiedAccessToken | undefined> {
    const jws = splitCompactJws(token);
    if (!jws) return undefined;
    const header = decodeSegment(jws.rawHeader);
    if (!header || header['alg'] !== SIGNING_ALG || 'crit' in header) return undefined;
    const typ = header['typ'];
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') return undefined;
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') return undefined;
    const key = await this.keys.getKey(kid, SIGNING_ALG);
    if (!key || !verifyJws(SIGNING_ALG, key, jws.signingInput, jws.signature)) return undefined;
    const payload = decodeSegment(jws.rawPayload) as JWTPayload | undefined;
    if (!payload || payload.iss !== this.issuer) return undefined;
    if (REQUIRED_TEXT_CLAIMS.some((claim) => typeof payload[claim] !== 'string')) return undefined;
    if (typeof payload.exp !== 'number' || payload.exp <= now) return undefined;
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return undefined;
    if (payload.iat !== undefined && typeof payload.iat !== 'number') return undefined;
    return payload as VerifiedAccessToken;
  }
}
