import { ExpiringCache } from './expiring-cache.js';
import { accessTokenHash, decodeSegment, isJwsAlgorithm, splitCompactJws, verifyJws, type JwsAlgorithm } from '../dpop/jws.js';
import type { KeySource } from './keys.js';
import { emptyTokenMemo, type TokenMemo } from './token-memo.js';

/** Why an access token was refused; stable, for tests and logs. */
export type TokenRejection =
  | 'token_malformed'
  | 'token_header'
  | 'token_unknown_key'
  | 'token_signature'
  | 'token_issuer'
  | 'token_audience'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_claims';

export class TokenRejected extends Error {
  constructor(
    readonly code: TokenRejection,
    readonly description: string,
  ) {
    super(description);
    this.name = 'TokenRejected';
  }
}

/** Who a verified request acts for: what the guard hands the application (and policy) on success. */
export interface VerifiedIdentity {
  /** The user (`sub`). */
  sub: string;
  clientId: string;
  scopes: readonly string[];
  /** The grant (`sid`) the token descends from; null when the issuer does not say. */
  grantId: string | null;
  /** The DPoP key thumbprint the token is bound to and the proof was signed with; null for a Bearer token. */
  jkt: string | null;
  jti: string;
  issuedAt: number;
  expiresAt: number;
  /** Every claim of the token, as signed. */
  claims: Readonly<Record<string, unknown>>;
}

/** An access token whose signature, issuer, audience, lifetime and required claims have been checked. */
export interface VerifiedToken {
  /** Every claim, as signed. */
  claims: Readonly<Record<string, unknown>>;
  sub: string;
  clientId: string;
  /** The grant the token descends from (`sid`); null when the issuer does not say. */
  grantId: string | null;
  /** The DPoP key thumbprint the token is bound to (`cnf.jkt`); null for a Bearer token. */
  jkt: string | null;
  scopes: readonly string[];
  /** The raw `scope` claim, for cache keys. */
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  /** SHA-256 of the token (base64url), which its proofs must carry as `ath`. */
  ath: string;
  /** Built once per token, shared (frozen) by every request that carries it. */
  identity: Readonly<VerifiedIdentity>;
  /** What the guard's last request with this token found, for the next (see {@link TokenMemo}). */
  memo: TokenMemo;
}

export interface AccessTokenVerifierOptions {
  issuer: string;
  /** This API's audience URI; a token must name one of them in `aud` (RFC 8707). */
  audience: string | readonly string[];
  keys: KeySource;
  /** Default ES256, what Tether signs with. */
  algorithms?: readonly JwsAlgorithm[];
  /** How many verified tokens to keep (default 10,000). */
  cacheSize?: number;
  /** Seconds of clock difference tolerated on exp and nbf (default 0). */
  clockTolerance?: number;
}

/**
 * Verifies JWT access tokens (RFC 9068 §4) and keeps each verified token until it expires, matched by its exact text:
 * a token is immutable and its signature cannot stop being valid, so while it lives only its expiry (and, in the
 * guard, revocation and the proof) need checking again. The cache is bounded; a token pushed out is verified anew.
 *
 * The cache is looked up by the last 22 characters of the token's signature (132 bits the issuer's signature made
 * unpredictable) and a hit must then equal the whole token, character for character: the same answer as a map
 * keyed by the whole text, without hashing its ~700 characters on every request. A token with another header or payload and a copied signature finds the entry,
 * fails the comparison and is verified in full (and refused); only a token that verified ever enters the cache, so
 * a forgery cannot displace a real entry either.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export class AccessTokenVerifier {
  /** The signature's tail -> the whole token it was verified as, and the result. */
  private readonly cache: ExpiringCache<string, { token: string; verified: VerifiedToken }>;
  private readonly audiences: ReadonlySet<string>;
  private readonly algorithms: readonly JwsAlgorithm[];
  private readonly tolerance: number;

  constructor(private readonly options: AccessTokenVerifierOptions) {
    this.cache = new ExpiringCache(options.cacheSize ?? 10_000);
    this.audiences = new Set(typeof options.audience === 'string' ? [options.audience] : options.audience);
    this.algorithms = options.algorithms ?? ['ES256'];
    this.tolerance = options.clockTolerance ?? 0;
  }

  /** The token if it was verified before and has not expired: the synchronous fast path of {@link verify}. */
  cached(token: string, now: number): VerifiedToken | undefined {
    const entry = this.cache.get(cacheKey(token), now);
    // The whole text must match: equal signatures with another header or payload are another token.
    return entry !== undefined && entry.token === token ? entry.verified : undefined;
  }

  /** How many verified tokens are cached. */
  get size(): number {
    return this.cache.size;
  }

  /**
   * The verified token, or a {@link TokenRejected}; `now` in seconds. Throws `KeysUnavailable` (from the key
   * source) when the issuer's keys cannot be had, which is not the client's fault.
   */
  async verify(token: string, now: number): Promise<VerifiedToken> {
    const cached = this.cached(token, now);
    if (cached) return cached;
    const verified = await this.verifyUncached(token, now);
    this.cache.set(cacheKey(token), { token, verified }, verified.exp + this.tolerance, now);
    return verified;
  }

  private async verifyUncached(token: string, now: number): Promise<VerifiedToken> {
    const jws = splitCompactJws(token);
    const header = jws && decodeSegment(jws.rawHeader);
    if (!jws || !header) throw new TokenRejected('token_malformed', 'The access token is not a JWT.');
    const typ = header['typ'];
    // RFC 9068 §4: "at+jwt" (or its full media type); anything else may be some other JWT replayed as a token.
    if (typeof typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(typ)) {
      throw new TokenRejected('token_header', 'The token is not a JWT access token (typ at+jwt).');
    }
    const alg = header['alg'];
    if (!isJwsAlgorithm(alg) || !this.algorithms.includes(alg)) throw new TokenRejected('token_header', 'The token algorithm is not allowed.');
    if ('crit' in header) throw new TokenRejected('token_header', 'The token header has critical extensions.');
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') throw new TokenRejected('token_header', 'The token kid is malformed.');
    const key = await this.options.keys.getKey(kid, alg);
    if (!key) throw new TokenRejected('token_unknown_key', 'The token is signed by a key the issuer does not publish.');
    if (!verifyJws(alg, key, jws.signingInput, jws.signature)) throw new TokenRejected('token_signature', 'The token signature is invalid.');

    const claims = decodeSegment(jws.rawPayload);
    if (!claims) throw new TokenRejected('token_malformed', 'The token payload is not a JSON object.');
    const { iss, aud, exp, nbf, iat, sub, jti, client_id: clientId, scope, sid, cnf } = claims;
    if (iss !== this.options.issuer) throw new TokenRejected('token_issuer', 'The token is from another issuer.');
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => typeof a === 'string' && this.audiences.has(a))) {
      throw new TokenRejected('token_audience', 'The token is not meant for this API (aud).');
    }
    if (typeof exp !== 'number' || typeof iat !== 'number') throw new TokenRejected('token_claims', 'The token has no exp or iat.');
    if (now >= exp + this.tolerance) throw new TokenRejected('token_expired', 'The access token has expired.');
    if (nbf !== undefined && (typeof nbf !== 'number' || now < nbf - this.tolerance)) {
      throw new TokenRejected('token_not_yet_valid', 'The access token is not valid yet.');
    }
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof clientId !== 'string') {
      throw new TokenRejected('token_claims', 'The token lacks sub, client_id or jti.');
    }
    if (scope !== undefined && typeof scope !== 'string') throw new TokenRejected('token_claims', 'The token scope is malformed.');
    if (sid !== undefined && typeof sid !== 'string') throw new TokenRejected('token_claims', 'The token sid is malformed.');
    let jkt: string | null = null;
    if (cnf !== undefined) {
      const bound = (cnf as { jkt?: unknown } | null)?.jkt;
      if (typeof bound !== 'string' || bound.length === 0) throw new TokenRejected('token_claims', 'The token cnf is malformed.');
      jkt = bound;
    }
    const scopes = Object.freeze(scope ? scope.split(' ').filter(Boolean) : []);
    const grantId = sid ?? null;
    const identity = Object.freeze({ sub, clientId, scopes, grantId, jkt, jti, issuedAt: iat, expiresAt: exp, claims: Object.freeze(claims) });
    return { claims, sub, clientId, grantId, jkt, scope: scope ?? '', scopes, jti, iat, exp, ath: accessTokenHash(token), identity, memo: emptyTokenMemo() };
  }
}

/**
 * The last 22 characters: of a compact JWS, the end of its signature (every accepted algorithm's is longer). Only
 * tokens that verified enter the cache, so two under one key would take two issuer signatures alike in 132 bits.
 */
function cacheKey(token: string): string {
  return token.length > 22 ? token.slice(-22) : token;
}
