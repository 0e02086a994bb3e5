import { constants, verify, type KeyObject } from 'node:crypto';

/**
 * Synchronous verification of a compact JWS signed with an asymmetric key, straight on node:crypto. jose does
 * the same checks through WebCrypto, whose every call is a round trip to a worker thread; a DPoP proof is checked
 * on every poll and every API call, where that round trip was a third of the cost. Written by hand for that
 * reason only, and kept to what DPoP needs: the algorithms below, a public JWK, no `crit`.
 */
export const ASYMMETRIC_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and decodes; undefined when it is not a three-part compact JWS with JSON object header and payload. */
export function decodeCompactJws(jws: string): DecodedJws | undefined {
  if (jws.length > 8192) return undefined;
  const parts = jws.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(payload)) return undefined;
    return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
  } catch {
    return undefined;
  }
}

// One JWK import for the server and the guard: the type, curve and RSA-size checks are written once, in the guard's
// JWS module, which imports nothing of the server.
export { importPublicJwk } from '../guard/jws.js';

export function verifySignature(alg: AsymmetricAlgorithm, key: KeyObject, jws: DecodedJws): boolean {
  const data = Buffer.from(jws.signingInput);
  try {
    switch (alg) {
      case 'ES256':
        return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
      case 'ES384':
        return verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
      case 'EdDSA':
        return verify(null, data, key, jws.signature);
      case 'PS256':
        return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jws.signature);
      case 'RS256':
        return verify('sha256', data, key, jws.signature);
    }
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
