import { constants, createHash, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * Compact JWS (RFC 7515) parsing and signature checks with node:crypto alone: the one JWS verifier of the server's
 * DPoP checks, the guard and the gateway. A DPoP proof is verified on every poll and every API request; doing it
 * synchronously here instead of through jose's WebCrypto path (a worker-thread round trip per call) removes most
 * of the per-request cost that is not the signature itself, without skipping any check a proof or token needs.
 * It loads nothing but node:crypto, so the guard can ship with it alone.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */

/** The asymmetric algorithms accepted for proofs and tokens (RFC 9449 §4.3 forbids `none` and MACs). */
export const JWS_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

interface AlgorithmSpec {
  hash: string | null;
  /** What the key must be for this algorithm. */
  keyType: 'ec' | 'ed25519' | 'rsa';
  curve?: string;
  signatureLength?: number;
  padding?: number;
  saltLength?: number;
}

const SPECS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1', signatureLength: 64 },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1', signatureLength: 96 },
  EdDSA: { hash: null, keyType: 'ed25519', signatureLength: 64 },
  PS256: { hash: 'sha256', keyType: 'rsa', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  RS256: { hash: 'sha256', keyType: 'rsa', padding: constants.RSA_PKCS1_PADDING },
};

/** RSA keys shorter than this are refused (RFC 7518 §3.3). */
const MIN_RSA_BITS = 2048;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** The payload and signature segments, from `lastIndex` (sticky) to the end. */
const AFTER_HEADER = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/y;
/** Members that only a private or symmetric key has: a proof carrying one is refused (RFC 9449 §4.3, check 7). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Scratch for {@link decodeSegment}; one per thread (a worker has its own module copy), as {@link SCRATCH}. */
const DECODED = Buffer.allocUnsafe(8192);
/** The longest segment whose bytes (3 per 4 characters) surely fit in {@link DECODED}. */
const MAX_SCRATCH_SEGMENT = Math.floor((8192 * 4) / 3);

export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && (JWS_ALGORITHMS as readonly string[]).includes(value);
}

/** A compact JWS split into its parts; nothing in it is trusted until {@link verifyJws} says so. */
export interface CompactJws {
  /** The first segment as sent: a cache key for everything derived from the header alone. */
  rawHeader: string;
  /** The second segment as sent. */
  rawPayload: string;
  /** `header.payload`: the bytes the signature covers. */
  signingInput: string;
  /** The third segment as sent (checked to be base64url). */
  rawSignature: string;
  /** Its bytes, decoded when first asked for. */
  readonly signature: Buffer;
}

/** A split JWS whose signature is decoded only if asked for: {@link verifyJwsSegment} reads the text itself. */
class SplitJws implements CompactJws {
  private decoded: Buffer | undefined;

  constructor(
    readonly rawHeader: string,
    readonly rawPayload: string,
    readonly signingInput: string,
    readonly rawSignature: string,
  ) {}

  get signature(): Buffer {
    return (this.decoded ??= Buffer.from(this.rawSignature, 'base64url'));
  }
}

/**
 * Splits a compact JWS; undefined unless it has exactly three base64url segments. `checkedHeader`: a first segment
 * this caller found to be well-formed base64url before; a token that starts with exactly it (and a dot) has only
 * the rest of its text scanned, and gets that very string as its `rawHeader`.
 */
export function splitCompactJws(token: string, checkedHeader?: string): CompactJws | undefined {
  // Buffer's base64url decoder skips characters it does not know; a strict check keeps one token one meaning. One
  // pass over the whole text: exactly three non-empty base64url segments between two dots.
  let first = token.indexOf('.');
  let rawHeader = token.slice(0, first);
  // String equality is a block compare (startsWith goes character by character, slower than the scan it spares).
  if (first > 0 && checkedHeader && rawHeader === checkedHeader) {
    rawHeader = checkedHeader;
    AFTER_HEADER.lastIndex = first + 1;
    if (!AFTER_HEADER.test(token)) return undefined;
  } else {
    if (!COMPACT_JWS.test(token)) return undefined;
    first = token.indexOf('.');
  }
  const second = token.indexOf('.', first + 1);
  return new SplitJws(rawHeader, token.slice(first + 1, second), token.slice(0, second), token.slice(second + 1));
}

/**
 * Decodes one base64url segment as a JSON object; undefined for anything else (arrays, null, bad JSON). The bytes go
 * through a scratch buffer (the text is copied out of it before anything else runs), sparing an allocation on
 * every proof.
 */
export function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const text =
      segment.length <= MAX_SCRATCH_SEGMENT
        ? DECODED.toString('utf8', 0, DECODED.write(segment, 0, 'base64url'))
        : Buffer.from(segment, 'base64url').toString('utf8');
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `key` is the kind of key `alg` signs with (curve, type, RSA size). */
export function keyFitsAlgorithm(key: KeyObject, alg: JwsAlgorithm): boolean {
  const spec = SPECS[alg];
  if (key.type !== 'public') return false;
  const type = key.asymmetricKeyType;
  if (spec.keyType === 'ec') return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === spec.curve;
  if (spec.keyType === 'ed25519') return type === 'ed25519';
  return (type === 'rsa' || (type === 'rsa-pss' && alg === 'PS256')) && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS;
}

/**
 * Imports a public JWK for `alg`; undefined when it is private, malformed or the wrong kind of key.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export function importPublicJwk(jwk: unknown, alg: JwsAlgorithm): KeyObject | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) return undefined;
  try {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    return keyFitsAlgorithm(key, alg) ? key : undefined;
  } catch {
    return undefined;
  }
}

/** True when `signature` over `signingInput` verifies with `key` under `alg`. */
export function verifyJws(alg: JwsAlgorithm, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  const spec = SPECS[alg];
  if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) return false;
  const data = signingBytes(signingInput);
  try {
    if (spec.keyType === 'ec') return verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (spec.keyType === 'rsa') {
      return verify(spec.hash, data, { key, padding: spec.padding, saltLength: spec.saltLength }, signature);
    }
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * {@link verifyJws} of a signature given as its base64url text (checked by {@link splitCompactJws}), decoded into a
 * scratch buffer rather than a new one: the proof path verifies one signature per request.
 */
export function verifyJwsSegment(alg: JwsAlgorithm, key: KeyObject, signingInput: string, rawSignature: string): boolean {
  if (rawSignature.length > MAX_SIGNATURE_TEXT) return verifyJws(alg, key, signingInput, Buffer.from(rawSignature, 'base64url'));
  const length = SIGNATURE.write(rawSignature, 0, 'base64url');
  return verifyJws(alg, key, signingInput, (SIGNATURE_VIEWS[length] ??= SIGNATURE.subarray(0, length)));
}

/** Scratch for {@link verifyJwsSegment}: room for an RSA-8192 signature; longer texts get a buffer of their own. */
const SIGNATURE = Buffer.allocUnsafe(1024);
const SIGNATURE_VIEWS: Buffer[] = [];
const MAX_SIGNATURE_TEXT = Math.floor((1024 * 4) / 3);

/**
 * Reused for the bytes a signature covers: `verify` below is synchronous and keeps nothing of its input, so one
 * buffer per thread serves every call, sparing an allocation per proof (a worker thread has its own module copy).
 */
const SCRATCH = Buffer.allocUnsafe(8192);

/**
 * Views of {@link SCRATCH}'s first n bytes, by n, made once each: a client's proofs are all about one length, so
 * this spares a view object per proof as well. At most one per length that fits, 8,192 in all.
 */
const SCRATCH_VIEWS: Buffer[] = [];

/** `text` as bytes (latin1: a JWS signing input is ASCII), in {@link SCRATCH} when it fits. */
function signingBytes(text: string): Buffer {
  if (text.length > SCRATCH.length) return Buffer.from(text, 'latin1');
  const length = SCRATCH.write(text, 0, 'latin1');
  return (SCRATCH_VIEWS[length] ??= SCRATCH.subarray(0, length));
}

/**
 * The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: the required members only, in lexicographic order,
 * without whitespace. Undefined for a key type the guard does not use.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const members: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };
  const kty = jwk['kty'];
  const required = typeof kty === 'string' ? members[kty] : undefined;
  if (!required) return undefined;
  const parts: string[] = [];
  for (const name of required) {
    const value = jwk[name];
    if (typeof value !== 'string') return undefined;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }
  return createHash('sha256').update(`{${parts.join(',')}}`).digest('base64url');
}

/** SHA-256 of an access token as base64url: the `ath` a proof must carry (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url');
}
