import { sign, type KeyObject } from 'node:crypto';

const segment = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * Signs a compact JWS (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4: SHA-256, the signature as the 64-byte R || S)
 * on node:crypto, synchronously. Written by hand instead of jose's SignJWT because jose 6 signs through WebCrypto:
 * each call converts the KeyObject and hops to the thread pool and back, which cost more CPU than the signature
 * itself on every token response (measured in bench/run.mjs: redemption and refresh). The JWT is nothing more
 * than base64url(header) . base64url(claims) . base64url(signature); `iss`, `exp` and the rest are the caller's.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.4
 */
export function signCompactEs256(header: { alg: 'ES256' } & Record<string, unknown>, claims: object, key: KeyObject): string {
  const input = `${segment(header)}.${segment(claims)}`;
  const signature = sign('sha256', Buffer.from(input, 'latin1'), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}
