import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { InvalidRequest } from '../oauth/errors.js';

/** An external issuer whose JWTs federated workloads present (GitHub Actions, GitLab CI, a Kubernetes cluster). */
export interface TrustedIssuer {
  issuer: string;
  /** Absent: read from the issuer's OpenID discovery document. */
  jwksUri?: string;
  audience: string;
  algorithms: readonly string[];
  /** Seconds: tokens issued longer ago are refused whatever their exp. */
  maxTokenAge: number;
}

/** A verified external token: who issued it and every claim it carries. */
export interface FederatedToken {
  issuer: string;
  claims: JWTPayload & { sub: string; jti: string; exp: number };
}

/**
 * Verifies JWTs from the configured external issuers: signature by a key the issuer publishes (fetched and cached by
 * jose, refetched when an unknown `kid` appears), `iss` exactly one configured, `aud` the one configured for it,
 * `exp`, `nbf`, `iat` (not in the future, not older than `maxTokenAge`), and `sub` and `jti` present. Anything else
 * is `invalid_request`, which RFC 8693 §2.2.2 prescribes for a subject token that is invalid "for any reason".
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2.2
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 */
export class FederationVerifier {
  private readonly issuers: Map<string, TrustedIssuer>;
  private readonly keySets = new Map<string, Promise<JWTVerifyGetKey>>();

  constructor(
    issuers: readonly TrustedIssuer[],
    private readonly fetchJson: (url: string) => Promise<unknown> = defaultFetchJson,
  ) {
    this.issuers = new Map(issuers.map((i) => [i.issuer, i]));
  }

  trusts(issuer: string): boolean {
    return this.issuers.has(issuer);
  }

  async verify(token: string, now: number): Promise<FederatedToken> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new InvalidRequest('subject_token: not a JWT.');
    }
    const trusted = typeof unverified.iss === 'string' ? this.issuers.get(unverified.iss) : undefined;
    if (!trusted) throw new InvalidRequest('subject_token: its issuer is not trusted (federation.issuers).');
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keysOf(trusted);
    } catch {
      // Not the client's fault, but nothing can be verified: refuse (never accept unverified) and retry keys next time.
      this.keySets.delete(trusted.issuer);
      throw new InvalidRequest('subject_token: the issuer\'s keys could not be fetched; try again.');
    }
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: trusted.issuer,
        audience: trusted.audience,
        algorithms: [...trusted.algorithms],
        currentDate: new Date(now * 1000),
        maxTokenAge: trusted.maxTokenAge,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      return { issuer: trusted.issuer, claims: payload as FederatedToken['claims'] };
    } catch (error) {
      throw new InvalidRequest(`subject_token: ${reasonOf(error)}`);
    }
  }

  private keysOf(trusted: TrustedIssuer): Promise<JWTVerifyGetKey> {
    let keys = this.keySets.get(trusted.issuer);
    if (!keys) {
      keys = (async () => {
        const uri = trusted.jwksUri ?? (await this.discoverJwksUri(trusted.issuer));
        return createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
      })();
      this.keySets.set(trusted.issuer, keys);
    }
    return keys;
  }

  /** OpenID Connect Discovery 1.0 §4: the document names its own issuer, which must be the one configured. */
  private async discoverJwksUri(issuer: string): Promise<string> {
    const doc = await this.fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    const { issuer: named, jwks_uri: jwksUri } = (doc ?? {}) as Record<string, unknown>;
    if (named !== issuer || typeof jwksUri !== 'string') throw new Error('discovery document does not match the issuer');
    return jwksUri;
  }
}

/** A sentence for the refusal, naming the failed check and never echoing the token. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'it is not meant for Tether (aud).';
    if (error.claim === 'nbf') return 'it is not valid yet (nbf).';
    if (error.claim === 'iat') return 'it was issued in the future or too long ago (iat).';
    return `the ${error.claim} claim is missing or invalid.`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature is invalid.';
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is signed by a key its issuer does not publish.';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its algorithm is not allowed for this issuer.';
  return 'it could not be verified.';
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000), headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/**
 * Whether a verified token is the one a federated workload trusts: its `sub`, and every configured claim equal
 * (strings compare exactly; a claim that is a number or boolean compares by its text).
 */
export function matchesWorkload(claims: JWTPayload, subject: string, required: Readonly<Record<string, string>>): boolean {
  if (claims.sub !== subject) return false;
  return Object.entries(required).every(([name, value]) => {
    const actual = claims[name];
    return (typeof actual === 'string' || typeof actual === 'number' || typeof actual === 'boolean') && String(actual) === value;
  });
}
