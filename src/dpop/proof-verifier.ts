import type { KeyObject } from 'node:crypto';
import { decodeSegment, importPublicJwk, isJwsAlgorithm, JWS_ALGORITHMS, jwkThumbprint, splitCompactJws, verifyJwsSegment, type CompactJws, type JwsAlgorithm } from './jws.js';
import type { ReplayGuard } from './replay-guard.js';

/** Why a proof was refused; stable, for tests and logs. */
export type ProofRejection =
  | 'proof_malformed'
  | 'proof_header'
  | 'proof_key'
  | 'proof_signature'
  | 'proof_htm'
  | 'proof_htu'
  | 'proof_iat'
  | 'proof_exp'
  | 'proof_ath'
  | 'proof_jti'
  | 'proof_key_mismatch'
  | 'proof_replayed'
  | 'nonce_required';

export class ProofRejected extends Error {
  constructor(
    readonly code: ProofRejection,
    readonly description: string,
    /** For `nonce_required`: the nonce to send the client (RFC 9449 §8, §9). */
    readonly nonce?: string,
  ) {
    super(description);
    this.name = 'ProofRejected';
  }
}

/**
 * Server-provided nonces (RFC 9449 §8, §9). `DpopNonces` of src/dpop/nonce.ts fits; so does any source whose
 * nonces can be checked without storage.
 */
export interface NonceSource {
  current(): string;
  isValid(nonce: string | undefined): boolean;
}

export interface ProofVerifierOptions {
  /**
   * Remembers proof ids so each proof is usable once; shared by every request of the process. A synchronous one
   * (the in-process ReplayCache) is needed by {@link ProofVerifier.verify}; a shared one that answers after a round
   * trip is claimed by the caller of {@link ProofVerifier.check} instead.
   */
  replay?: ReplayGuard;
  algorithms?: readonly JwsAlgorithm[];
  /** How old a proof may be, in seconds (default 60). */
  maxAge?: number;
  /** How far ahead of ours a client's clock may run, in seconds (default 10). */
  maxFuture?: number;
  /** How many distinct proof headers (client keys) to keep imported (default 10,000). */
  keyCacheSize?: number;
}

/** What the request says a proof must match. */
export interface ProofExpectation {
  /** The request method, upper case. */
  htm: string;
  /** The absolute URI of the request; its query and fragment are ignored. */
  htu: string;
  /** Seconds since the epoch. */
  now: number;
  /** With an access token: its SHA-256 (base64url), which the proof must carry as `ath` (RFC 9449 §4.2). */
  ath?: string;
  /** With a key-bound access token: its `cnf.jkt`, the thumbprint the proof's key must have (RFC 9449 §7.1). */
  jkt?: string;
  /** Where nonces are demanded: their source; a proof without a valid one is refused with a fresh one. */
  nonces?: NonceSource;
  /**
   * A slot the caller keeps per client (the guard: per access token) for the proof header it last sent: a proof
   * whose header is that exact text reuses what was derived from it (its alg, key and thumbprint) without looking
   * it up. Any other header is parsed and checked as usual, then kept here.
   */
  headerMemo?: ProofHeaderMemo;
  /**
   * Proofs dated (iat) at or before this second are refused: the replay cache of an earlier process may have
   * seen them and is gone (see docs/architecture.md, "DPoP proofs across a restart").
   */
  notAfterIat?: number;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key: what tokens and device codes are bound to. */
  jkt: string;
  jti: string;
  /** The proof's `iat`, seconds. */
  iat: number;
}

/** A proof that passed every check but the last: its id is still to be claimed, under `replayKey` until `replayUntil`. */
export interface UnclaimedProof extends VerifiedProof {
  replayKey: string;
  /** Seconds: after this the proof fails its age check anyway, so the claim may be forgotten. */
  replayUntil: number;
}

export interface ProofHeader {
  alg: JwsAlgorithm;
  key: KeyObject;
  jkt: string;
}

/** The proof header a client last sent, as sent, and what was derived from it (see `ProofExpectation.headerMemo`). */
export interface ProofHeaderMemo {
  raw: string;
  header: ProofHeader | undefined;
}

/** A proof that passed {@link ProofVerifier.inspect}: its key thumbprint is known, its signature not yet checked. */
export interface InspectedProof {
  /** Thumbprint of the key in the header; nobody has yet shown they hold it. */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
  readonly header: ProofHeader;
  readonly jws: CompactJws;
  readonly nonce: string | undefined;
  readonly expected: ProofExpectation;
}

/** A jti must carry enough randomness to be unique (RFC 9449 §4.2 suggests 96 bits); shorter ones are refused. */
const MIN_JTI = 8;
const MAX_JTI = 256;

/**
 * The one DPoP proof verifier, used by the token and device endpoints, the guard and the gateway, so all of them
 * give the same verdict for the same proof. Every check of RFC 9449 §4.3 (and §7.1 with an access token): one
 * well-formed JWT; typ exactly `dpop+jwt`; an allowed asymmetric alg; no critical extensions; a public `jwk` and
 * a valid signature by it; a jti of 8 to 256 characters; htm; htu without query and fragment; iat within the
 * acceptance window; exp, when present, not passed; ath of the token; the token's `cnf.jkt`; a server nonce where
 * demanded; and the jti never seen before.
 *
 * Synchronous, on node:crypto: everything derived from a proof's header (the checks on it, the imported key, its
 * thumbprint) is cached by the header's exact text, which a client repeats on every proof, so the per-request
 * cost is one JSON parse and one signature check.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export class ProofVerifier {
  private readonly headers = new Map<string, ProofHeader>();
  private readonly algorithms: readonly JwsAlgorithm[];
  private readonly maxAge: number;
  private readonly maxFuture: number;
  private readonly keyCacheSize: number;

  constructor(private readonly options: ProofVerifierOptions) {
    this.algorithms = options.algorithms ?? JWS_ALGORITHMS;
    this.maxAge = options.maxAge ?? 60;
    this.maxFuture = options.maxFuture ?? 10;
    this.keyCacheSize = options.keyCacheSize ?? 10_000;
  }

  /** The algorithms a client may sign proofs with, for metadata and the `algs` of a DPoP challenge. */
  get supportedAlgorithms(): readonly JwsAlgorithm[] {
    return this.algorithms;
  }

  /** How many proof headers (client keys) are cached. */
  get keyCount(): number {
    return this.headers.size;
  }

  /**
   * Checks `proof` against `expected` and claims its id in the synchronous replay cache; returns its key
   * thumbprint, jti and iat, or throws {@link ProofRejected}.
   */
  verify(proof: string, expected: ProofExpectation): VerifiedProof {
    const proofCheck = this.check(proof, expected);
    const claimed = this.options.replay?.claim(proofCheck.replayKey, proofCheck.replayUntil);
    if (typeof claimed !== 'boolean') throw new TypeError('ProofVerifier.verify needs a synchronous replay cache; use check()');
    if (!claimed) throw replayed();
    return { jkt: proofCheck.jkt, jti: proofCheck.jti, iat: proofCheck.iat };
  }

  /**
   * Every check of {@link ProofVerifier.verify} except the replay claim, which the caller makes last (after its own
   * checks that can fail, so a refused request cannot use up a client's jti) against whatever replay window it has.
   */
  check(proof: string, expected: ProofExpectation): UnclaimedProof {
    return this.complete(this.inspect(proof, expected), true);
  }

  /**
   * The checks of {@link check} that come before the signature (form, header, key, jti, htm, htu, iat, exp, ath,
   * the bound key), for a caller that must look something up before it knows whether the signature matters; it
   * then finishes with {@link complete}.
   */
  inspect(proof: string, expected: ProofExpectation): InspectedProof {
    const memo = expected.headerMemo;
    // A header seen before by its exact text was found well-formed then: only the rest of the proof is scanned.
    const jws = splitCompactJws(proof, memo?.header !== undefined ? memo.raw : undefined);
    if (!jws) throw new ProofRejected('proof_malformed', 'The DPoP proof is not a compact JWT.');
    let header: ProofHeader;
    if (memo !== undefined && memo.header !== undefined && jws.rawHeader === memo.raw) {
      header = memo.header;
    } else {
      header = this.header(jws.rawHeader);
      if (memo !== undefined) {
        memo.raw = jws.rawHeader;
        memo.header = header;
      }
    }
    const payload = decodeSegment(jws.rawPayload);
    if (!payload) throw new ProofRejected('proof_malformed', 'The DPoP proof payload is not a JSON object.');

    const { htm, htu, iat, jti, ath, exp } = payload;
    if (typeof jti !== 'string' || jti.length < MIN_JTI || jti.length > MAX_JTI) {
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
    if (exp !== undefined && (typeof exp !== 'number' || !(exp > expected.now))) {
      throw new ProofRejected('proof_exp', 'The proof has expired.');
    }
    if (expected.ath !== undefined) {
      if (ath === undefined) throw new ProofRejected('proof_ath', 'The proof has no ath for the access token.');
      if (ath !== expected.ath) throw new ProofRejected('proof_ath', 'The proof ath does not match the access token.');
    }
    // Before the signature: a proof by another key is refused without spending a verification on it.
    if (expected.jkt !== undefined && header.jkt !== expected.jkt) {
      throw new ProofRejected('proof_key_mismatch', 'The proof is not signed by the key the token is bound to.');
    }
    const nonce = typeof payload['nonce'] === 'string' ? payload['nonce'] : undefined;
    return { jkt: header.jkt, jti, iat, header, jws, nonce, expected };
  }

  /**
   * The rest of {@link check} after {@link inspect}: the signature (unless `signature` is false: only for an answer
   * that depends on nothing the signature proves, see docs/architecture.md, "A pending poll's proof"), the nonce
   * and the restart mark. The replay claim is still the caller's, signed or not.
   */
  complete(inspected: InspectedProof, signature: boolean): UnclaimedProof {
    const { header, jti, iat, expected } = inspected;
    if (signature && !this.signatureHolds(inspected)) {
      throw new ProofRejected('proof_signature', 'The proof signature is invalid.');
    }
    const nonces = expected.nonces;
    if (nonces && !nonces.isValid(inspected.nonce)) {
      throw new ProofRejected('nonce_required', 'This server requires a DPoP nonce.', nonces.current());
    }
    if (expected.notAfterIat !== undefined && iat <= expected.notAfterIat) {
      throw new ProofRejected('proof_iat', 'The proof is dated before this server last started; send a new one.');
    }
    return { jkt: header.jkt, jti, iat, replayKey: `${header.jkt}:${jti}`, replayUntil: iat + this.maxAge + this.maxFuture };
  }

  /** Whether the proof's signature holds under the key its header names: the check {@link complete} makes first. */
  signatureHolds(inspected: InspectedProof): boolean {
    const { header, jws } = inspected;
    return verifyJwsSegment(header.alg, header.key, jws.signingInput, jws.rawSignature);
  }

  private header(rawHeader: string): ProofHeader {
    const cached = this.headers.get(rawHeader);
    if (cached) return cached;
    const header = decodeSegment(rawHeader);
    if (!header) throw new ProofRejected('proof_malformed', 'The DPoP proof header is not a JSON object.');
    // RFC 9449 §4.3 check 4 names the exact value; every client library sends it so.
    if (header['typ'] !== 'dpop+jwt') throw new ProofRejected('proof_header', 'The proof typ must be dpop+jwt.');
    const alg = header['alg'];
    if (!isJwsAlgorithm(alg) || !this.algorithms.includes(alg)) {
      throw new ProofRejected('proof_header', 'The proof uses an algorithm that is not allowed.');
    }
    // No extension is understood here, so a proof that marks one critical cannot be accepted (RFC 7515 §4.1.11).
    if ('crit' in header) throw new ProofRejected('proof_header', 'The proof header has critical extensions.');
    const jwk = header['jwk'];
    const key = importPublicJwk(jwk, alg);
    const jkt = key ? jwkThumbprint(jwk as Record<string, unknown>) : undefined;
    if (!key || !jkt) throw new ProofRejected('proof_key', 'The proof jwk is not a public key usable with its alg.');
    const entry = { alg, key, jkt };
    if (this.headers.size >= this.keyCacheSize) this.headers.clear();
    this.headers.set(rawHeader, entry);
    return entry;
  }
}

/**
 * htu matches when equal once query and fragment are dropped; otherwise both are compared after URL normalization
 * (case of scheme and host, default port, percent-encoding, dot-segments), as RFC 9449 §4.3 allows.
 */
function sameHtu(claimed: string, expected: string): boolean {
  // What every client sends: the request URI without query, exactly (`expected` never has one).
  if (claimed === expected) return true;
  const bare = stripQuery(claimed);
  const wanted = stripQuery(expected);
  if (bare === wanted) return true;
  return normalize(bare) === normalize(wanted);
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

/** The refusal of a proof whose id was claimed before. */
export function replayed(): ProofRejected {
  return new ProofRejected('proof_replayed', 'This DPoP proof was already used.');
}
