import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ASYMMETRIC_ALGORITHMS, decodeCompactJws, importPublicJwk, verifySignature, type AsymmetricAlgorithm } from './compact-jws.js';
import { InvalidDpopProof, UseDpopNonce } from '../oauth/errors.js';
import type { DpopNonces } from './nonce.js';
import type { ReplayGuard } from './replay-guard.js';

/** Asymmetric algorithms only (RFC 9449 §4.3 forbids none and MACs). */
export const DPOP_ALGORITHMS = ASYMMETRIC_ALGORITHMS;
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
  private readonly keys = new Map<string, { key: KeyObject; jkt: string }>();

  constructor(private readonly replay: ReplayGuard) {}

  async verify(proof: string, expected: ProofExpectations): Promise<VerifiedProof> {
    const jws = decodeCompactJws(proof);
    if (!jws) throw new InvalidDpopProof('The DPoP proof is malformed.');
    const { header, payload } = jws;
    if (header['typ'] !== 'dpop+jwt') throw new InvalidDpopProof('The proof must have typ dpop+jwt.');
    const alg = header['alg'];
    if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new InvalidDpopProof('The proof uses an algorithm that is not allowed.');
    }
    if ('crit' in header) throw new InvalidDpopProof('The proof has critical headers this server does not understand.');
    const { key, jkt } = await this.resolveKey(header['jwk'], alg as AsymmetricAlgorithm);
    if (!verifySignature(alg as AsymmetricAlgorithm, key, jws)) throw new InvalidDpopProof('The proof signature is invalid.');

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
    if (typeof payload['exp'] === 'number' && payload['exp'] <= expected.now) throw new InvalidDpopProof('The proof has expired.');
    if (expected.accessToken !== undefined) {
      const hash = createHash('sha256').update(expected.accessToken).digest('base64url');
      if (ath !== hash) throw new InvalidDpopProof('ath does not match the access token.');
    }
    if (expected.nonces && !expected.nonces.isValid(typeof payload['nonce'] === 'string' ? payload['nonce'] : undefined)) {
      throw new UseDpopNonce(expected.nonces.current());
    }
    // Claim the jti last, after every check that can fail, so a rejected proof cannot burn a good client's jti.
    if (!(await this.replay.claim(`${jkt}:${jti}`, (iat + MAX_AGE + MAX_SKEW) * 1000))) {
      throw new InvalidDpopProof('This proof was already used.');
    }
    return { jkt, jti };
  }

  private async resolveKey(jwk: unknown, alg: AsymmetricAlgorithm): Promise<{ key: KeyObject; jkt: string }> {
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new InvalidDpopProof('The proof has no jwk header.');
    if (PRIVATE_JWK_MEMBERS.some((m) => m in jwk)) throw new InvalidDpopProof('The jwk header must be a public key.');
    const cacheKey = `${alg}:${JSON.stringify(jwk)}`;
    const cached = this.keys.get(cacheKey);
    if (cached) return cached;
    const key = importPublicJwk(jwk as Record<string, unknown>, alg);
    if (!key) throw new InvalidDpopProof('The jwk header is not a usable public key for alg.');
    const entry = { key, jkt: await calculateJwkThumbprint(jwk as JWK, 'sha256') };
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
