import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, errors, importJWK, jwtVerify, type JWK, type JWTHeaderParameters, type KeyObject } from 'jose';
import { InvalidDpopProof, UseDpopNonce } from '../oauth/errors.js';
import type { DpopNonces } from './nonce.js';
import type { ReplayCache } from './replay-cache.js';

/** Asymmetric algorithms only (RFC 9449 §4.3 forbids none and MACs). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;
/** How old a proof may be, and how far ahead a client's clock may run, in seconds. */
const MAX_AGE = 60;
const MAX_SKEW = 10;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const KEY_CACHE_LIMIT = 10_000;

export interface ProofExpectations {
  /** HTTP method of the request the proof must name. */
  htm: string;
  /** The request's URI without query or fragment. */
  htu: string;
  now: number;
  /** When an access token accompanies the proof, its value, for the `ath` check. */
  accessToken?: string;
  /** When the server demands nonces here, the checker of the proof's `nonce` claim. */
  nonces?: DpopNonces;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key: what tokens and device codes are bound to. */
  jkt: string;
  jti: string;
}

/**
 * Checks a DPoP proof JWT as RFC 9449 §4.3 lists: one header, typ, asymmetric alg, a public jwk, a valid
 * signature by it, htm, htu, a fresh iat, an unused jti and, with an access token, ath.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export class DpopVerifier {
  // Importing a JWK costs about as much as verifying with it; clients reuse one key, so keep imported keys.
  private readonly keys = new Map<string, { key: KeyObject; jkt: Promise<string> }>();

  constructor(private readonly replay: ReplayCache) {}

  async verify(proof: string, expected: ProofExpectations): Promise<VerifiedProof> {
    let jkt: Promise<string> | undefined;
    let payload;
    try {
      ({ payload } = await jwtVerify(
        proof,
        async (header: JWTHeaderParameters) => {
          const resolved = await this.resolveKey(header);
          jkt = resolved.jkt;
          return resolved.key;
        },
        { typ: 'dpop+jwt', algorithms: [...DPOP_ALGORITHMS], clockTolerance: 0 },
      ));
    } catch (error) {
      if (error instanceof InvalidDpopProof || error instanceof UseDpopNonce) throw error;
      throw new InvalidDpopProof(describeJoseError(error));
    }
    const { htm, htu, iat, jti, ath } = payload;
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw new InvalidDpopProof('jti is missing or malformed.');
    if (htm !== expected.htm) throw new InvalidDpopProof('htm does not match the request method.');
    if (typeof htu !== 'string' || normalizeHtu(htu) !== normalizeHtu(expected.htu)) {
      throw new InvalidDpopProof('htu does not match the request URI.');
    }
    if (typeof iat !== 'number') throw new InvalidDpopProof('iat is missing.');
    if (iat < expected.now - MAX_AGE || iat > expected.now + MAX_SKEW) {
      throw new InvalidDpopProof('The proof is too old or from the future.');
    }
    if (expected.accessToken !== undefined) {
      const hash = createHash('sha256').update(expected.accessToken).digest('base64url');
      if (ath !== hash) throw new InvalidDpopProof('ath does not match the access token.');
    }
    if (expected.nonces && !expected.nonces.isValid(typeof payload['nonce'] === 'string' ? payload['nonce'] : undefined)) {
      throw new UseDpopNonce(expected.nonces.current());
    }
    if (!jkt) throw new InvalidDpopProof('The proof has no usable key.');
    const thumbprint = await jkt;
    // Claim the jti last, after every check that can fail, so a rejected proof cannot burn a good client's jti.
    if (!this.replay.claim(`${thumbprint}:${jti}`, (iat + MAX_AGE + MAX_SKEW) * 1000)) {
      throw new InvalidDpopProof('This proof was already used.');
    }
    return { jkt: thumbprint, jti };
  }

  private async resolveKey(header: JWTHeaderParameters): Promise<{ key: KeyObject; jkt: Promise<string> }> {
    const jwk = header.jwk as JWK | undefined;
    if (!jwk || typeof jwk !== 'object') throw new InvalidDpopProof('The proof has no jwk header.');
    if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) throw new InvalidDpopProof('The jwk header must be a public key.');
    const cacheKey = `${header.alg}:${JSON.stringify(jwk)}`;
    const cached = this.keys.get(cacheKey);
    if (cached) return cached;
    let key: KeyObject;
    try {
      key = (await importJWK(jwk, header.alg)) as KeyObject;
    } catch {
      throw new InvalidDpopProof('The jwk header is not a usable key for alg.');
    }
    if (key.type !== 'public') throw new InvalidDpopProof('The jwk header must be a public key.');
    const entry = { key, jkt: calculateJwkThumbprint(jwk, 'sha256') };
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.clear();
    this.keys.set(cacheKey, entry);
    return entry;
  }
}

/** htu comparison ignores query and fragment and normalizes scheme, host and default port (RFC 9449 §4.3). */
function normalizeHtu(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return `invalid:${value}`;
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The proof signature is invalid.';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The proof uses an algorithm that is not allowed.';
  if (error instanceof errors.JWTClaimValidationFailed) return `The proof claim ${error.claim} is invalid.`;
  return 'The DPoP proof is malformed.';
}
