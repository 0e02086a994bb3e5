import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { DPOP_ALGORITHMS, type DpopVerifier } from '../dpop/proof.js';
import { OAuthError } from '../oauth/errors.js';
import { challenge, type GuardErrorCode } from './challenge.js';

/** The parts of an HTTP request the guard needs; any framework can supply them. */
export interface GuardRequest {
  method: string;
  /** The absolute URL the client called (for the proof's htu). */
  url: string;
  authorization: string | undefined;
  dpop: string | string[] | undefined;
}

export interface VerifiedIdentity {
  sub: string;
  clientId: string;
  scopes: string[];
  grantId: string;
  jkt: string | null;
  claims: JWTPayload;
}

export type GuardDecision =
  | { ok: true; identity: VerifiedIdentity }
  | { ok: false; status: 400 | 401 | 403; error: GuardErrorCode; description: string; wwwAuthenticate: string };

export interface RequestGuardOptions {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
  dpop: DpopVerifier;
  now: () => number;
  /** Scopes every request needs. */
  requiredScopes?: readonly string[];
  /** Whether the token's grant (or user, key, client) has been revoked. */
  isRevoked?: (claims: JWTPayload) => boolean | Promise<boolean>;
}

/**
 * Checks one API request: the JWT access token (RFC 9068), its audience, expiry and scope, and, for a DPoP-bound
 * token, the proof (RFC 9449 §7: htm, htu, ath, key = cnf.jkt). A bound token sent as Bearer is refused: that is
 * exactly what a thief holding a copied token would do. Framework-free; adapters translate.
 */
export class RequestGuard {
  constructor(private readonly options: RequestGuardOptions) {}

  async check(request: GuardRequest): Promise<GuardDecision> {
    const auth = request.authorization ?? '';
    const match = /^(DPoP|Bearer) ([A-Za-z0-9._~+/-]+=*)$/i.exec(auth);
    if (!match?.[1] || !match[2]) return this.refuse(401, 'invalid_token', 'An access token is required.', 'DPoP');
    const scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2];

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.options.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        currentDate: new Date(this.options.now() * 1000),
        requiredClaims: ['sub', 'client_id', 'jti', 'exp'],
      }));
    } catch (error) {
      const expired = error instanceof errors.JWTExpired;
      return this.refuse(401, 'invalid_token', expired ? 'The access token has expired.' : 'The access token is invalid.', scheme);
    }
    const jkt = (claims['cnf'] as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt === 'string') {
      if (scheme !== 'DPoP') {
        return this.refuse(401, 'invalid_token', 'This token is bound to a key: send it with the DPoP scheme and a proof.', 'DPoP');
      }
      const proof = request.dpop;
      if (typeof proof !== 'string' || proof.includes(',')) {
        return this.refuse(401, 'invalid_dpop_proof', 'Send exactly one DPoP proof.', 'DPoP');
      }
      try {
        const verified = await this.options.dpop.verify(proof, {
          htm: request.method.toUpperCase(),
          htu: request.url,
          now: this.options.now(),
          accessToken: token,
        });
        if (verified.jkt !== jkt) return this.refuse(401, 'invalid_dpop_proof', 'The proof is not signed by the token key.', 'DPoP');
      } catch (error) {
        const description = error instanceof OAuthError && error.description ? error.description : 'Invalid DPoP proof.';
        return this.refuse(401, 'invalid_dpop_proof', description, 'DPoP');
      }
    } else if (scheme === 'DPoP') {
      return this.refuse(401, 'invalid_token', 'This token is not bound to a key; use the Bearer scheme.', 'Bearer');
    }
    if (this.options.isRevoked && (await this.options.isRevoked(claims))) {
      return this.refuse(401, 'invalid_token', 'The access token has been revoked.', scheme);
    }
    const scopes = typeof claims['scope'] === 'string' ? claims['scope'].split(' ') : [];
    const missing = (this.options.requiredScopes ?? []).filter((s) => !scopes.includes(s));
    if (missing.length > 0) {
      return this.refuse(403, 'insufficient_scope', `This request needs scope ${missing.join(' ')}.`, scheme);
    }
    return {
      ok: true,
      identity: {
        sub: String(claims.sub),
        clientId: String(claims['client_id']),
        scopes,
        grantId: String(claims['sid'] ?? ''),
        jkt: typeof jkt === 'string' ? jkt : null,
        claims,
      },
    };
  }

  private refuse(status: 401 | 403, error: GuardErrorCode, description: string, scheme: 'DPoP' | 'Bearer'): GuardDecision {
    return { ok: false, status, error, description, wwwAuthenticate: challenge(scheme, error, description, DPOP_ALGORITHMS) };
  }
}
