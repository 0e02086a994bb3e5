import type { KeyObject } from 'node:crypto';
import type { ReplayCache } from '../dpop/replay-cache.js';
import { ExpiringCache } from './expiring-cache.js';
import {
  decodeSegment,
  GUARD_ALGORITHMS,
  importPublicJwk,
  isGuardAlgorithm,
  jwkThumbprint,
  splitCompactJws,
  verifyJws,
  type JwsAlgorithm,
} from './jws.js';

/** Why a proof was refused; stable, for tests and logs. */
export type ProofRejection =
  | 'proof_missing'
  | 'proof_malformed'
  | 'proof_header'
  | 'proof_key'
  | 'proof_signature'
  | 'proof_htm'
  | 'proof_htu'
  | 'proof_iat'
  | 'proof_ath'
  | 'proof_jti'
  | 'proof_key_mismatch'
  | 'proof_replayed'
  | 'nonce_required';

export class ProofRejected extends Error {
  constructor(
    readonly code: ProofRejection,
    readonly description: string,
    /** For `nonce_required`: the nonce to send the client (RFC 9449 §9). */
    readonly nonce?: string,
  ) {
    super(description);
    this.name = 'ProofRejected';
  }
}

/**
 * Server-provided nonces (RFC 9449 §9). `DpopNonces` of src/dpop/nonce.ts fits; so does any source whose nonces
 * the resource server can check without storage.
 */
export interface NonceSource {
  current(): string;
  isValid(nonce: string | undefined): boolean;
}

export interface ProofCheckerOptions {
  /** Remembers proof ids so each proof is usable once; shared by every request the guard checks. */
  replay: ReplayCache;
  algorithms?: readonly JwsAlgorithm[];
  /** How old a proof may be, in seconds (default 60). */
  maxAge?: number;
  /** How far ahead of ours a client's clock may run, in seconds (default 10). */
  maxFuture?: number;
  nonces?: NonceSource;
  /** How many distinct proof headers (client keys) to keep imported (default 10,000). */
  keyCacheSize?: number;
}

/** What the request says a proof must match. */
export interface ProofExpectation {
  /** The request method, upper case. */
  htm: string;
  /** The absolute URI of the request without query and fragment. */
  htu: string;
  /** SHA-256 of the access token sent with it (base64url). */
  ath: string;
  /** The thumbprint the access token is bound to (`cnf.jkt`). */
  jkt: string;
  /** Seconds since the epoch. */
  now: number;
}

interface ProofHeader {
  alg: JwsAlgorithm;
  key: KeyObject;
  jkt: string;
}

/**
 * Checks a DPoP proof sent with an access token at a resource server, every check of RFC 9449 §4.3 and §7.1:
 * one well-formed JWT; typ `dpop+jwt`; an allowed asymmetric alg; a public `jwk` and a valid signature by it; htm;
 * htu; a fresh iat; ath of the token; a key whose thumbprint is the token's `cnf.jkt`; a jti not seen before; and,
 * when configured, a server nonce. Synchronous: everything derived from a proof's header (the imported key and its
 * thumbprint) is cached by the header's exact text, which a client repeats on every proof, so the per-request cost
 * is one JSON parse and one signature check.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export class ProofChecker {
  private readonly headers: ExpiringCache<string, ProofHeader>;
  private readonly algorithms: readonly JwsAlgorithm[];
  private readonly maxAge: number;
  private readonly maxFuture: number;

  constructor(private readonly options: ProofCheckerOptions) {
    this.algorithms = options.algorithms ?? GUARD_ALGORITHMS;
    this.maxAge = options.maxAge ?? 60;
    this.maxFuture = options.maxFuture ?? 10;
    this.headers = new ExpiringCache(options.keyCacheSize ?? 10_000);
  }

  /** The algorithms a client may sign proofs with, for the `algs` of a DPoP challenge. */
  get supportedAlgorithms(): readonly JwsAlgorithm[] {
    return this.algorithms;
  }

  /** How many proof headers (client keys) are cached. */
  get keyCount(): number {
    return this.headers.size;
  }

  /** Checks `proof` against `expected`; returns the proof's jti, throws {@link ProofRejected}. */
  check(proof: string, expected: ProofExpectation): { jti: string } {
    const jws = splitCompactJws(proof);
    if (!jws) throw new ProofRejected('proof_malformed', 'The DPoP proof is not a compact JWT.');
    const header = this.header(jws.rawHeader);
    const payload = decodeSegment(jws.rawPayload);
    if (!payload) throw new ProofRejected('proof_malformed', 'The DPoP proof payload is not a JSON object.');

    const { htm, htu, iat, jti, ath } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
      throw new ProofRejected('proof_jti', 'The proof jti is missing or malformed.');
    }
    if (htm !== expected.htm) throw new ProofRejected('proof_htm', 'The proof htm does not match the request method.');
    if (typeof htu !== 'string' || !sameHtu(htu, expected.htu)) {
      throw new ProofRejected('proof_htu', 'The proof htu does not match the request URI.');
    }
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new ProofRejected('proof_iat', 'The proof iat is missing.');
    if (iat < expected.now - this.maxAge || iat > expected.now + this.maxFuture) {
      throw new ProofRejected('proof_iat', 'The proof is too old or from the future.');
    }
    if (ath === undefined) throw new ProofRejected('proof_ath', 'The proof has no ath for the access token.');
    if (ath !== expected.ath) throw new ProofRejected('proof_ath', 'The proof ath does not match the access token.');
    if (header.jkt !== expected.jkt) {
      throw new ProofRejected('proof_key_mismatch', 'The proof is not signed by the key the token is bound to.');
    }
    if (!verifyJws(header.alg, header.key, jws.signingInput, jws.signature)) {
      throw new ProofRejected('proof_signature', 'The proof signature is invalid.');
    }
    const nonces = this.options.nonces;
    if (nonces && !nonces.isValid(typeof payload['nonce'] === 'string' ? payload['nonce'] : undefined)) {
      throw new ProofRejected('nonce_required', 'This resource requires a DPoP nonce.', nonces.current());
    }
    // Claim the jti last, after every check that can fail, so a refused proof cannot use up a client's jti.
    if (!this.options.replay.claim(`${header.jkt}:${jti}`, (iat + this.maxAge + this.maxFuture) * 1000)) {
      throw new ProofRejected('proof_replayed', 'This DPoP proof was already used.');
    }
    return { jti };
  }

  private header(rawHeader: string): ProofHeader {
    const cached = this.headers.get(rawHeader, 0);
    if (cached) return cached;
    const header = decodeSegment(rawHeader);
    if (!header) throw new ProofRejected('proof_malformed', 'The DPoP proof header is not a JSON object.');
    const typ = header['typ'];
    if (typeof typ !== 'string' || typ.toLowerCase() !== 'dpop+jwt') {
      throw new ProofRejected('proof_header', 'The proof typ must be dpop+jwt.');
    }
    const alg = header['alg'];
    if (!isGuardAlgorithm(alg) || !this.algorithms.includes(alg)) {
      throw new ProofRejected('proof_header', 'The proof uses an algorithm that is not allowed.');
    }
    // No extension is understood here, so a proof that marks one critical cannot be accepted (RFC 7515 §4.1.11).
    if ('crit' in header) throw new ProofRejected('proof_header', 'The proof header has critical extensions.');
    const jwk = header['jwk'];
    const key = importPublicJwk(jwk, alg);
    const jkt = key ? jwkThumbprint(jwk as Record<string, unknown>) : undefined;
    if (!key || !jkt) throw new ProofRejected('proof_key', 'The proof jwk is not a public key usable with its alg.');
    const entry = { alg, key, jkt };
    this.headers.set(rawHeader, entry, Infinity, 0);
    return entry;
  }
}

/**
 * htu matches when equal once query and fragment are dropped; otherwise both are compared after URL normalization
 * (case of scheme and host, default port, percent-encoding), as RFC 9449 §4.3 allows.
 */
function sameHtu(claimed: string, expected: string): boolean {
  const bare = stripQuery(claimed);
  if (bare === expected) return true;
  return normalize(bare) === normalize(expected);
}

function stripQuery(uri: string): string {
  const cut = uri.search(/[?#]/);
  return cut === -1 ? uri : uri.slice(0, cut);
}

function normalize(uri: string): string {
  try {
    const url = new URL(uri);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return `invalid:${uri}`;
  }
}
