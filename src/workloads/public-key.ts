import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { InvalidRequest } from '../oauth/errors.js';

/** Members only a private (or symmetric) key has: their presence means a secret was about to be registered. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The algorithm a registered key signs assertions with: fixed at registration, never taken from the assertion. */
export function algorithmFor(jwk: Record<string, unknown>): string {
  if (jwk['kty'] === 'EC') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[String(jwk['crv'])] ?? '';
  if (jwk['kty'] === 'OKP') return jwk['crv'] === 'Ed25519' ? 'EdDSA' : '';
  if (jwk['kty'] === 'RSA') return typeof jwk['alg'] === 'string' && /^(RS|PS)(256|384|512)$/.test(jwk['alg']) ? jwk['alg'] : 'RS256';
  return '';
}

/**
 * Checks a key a workload registers: a public JWK of an asymmetric kind Tether verifies (EC P-256/384/521, Ed25519,
 * RSA of 2048 bits or more), with no private member, and returns it cleaned of anything else with its RFC 7638
 * thumbprint. Only the public half ever reaches the server: a private key sent by mistake is refused, not stored.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 * @see https://www.rfc-editor.org/rfc/rfc7638
 */
export async function registeredPublicKey(input: unknown): Promise<{ publicJwk: Record<string, unknown>; jkt: string }> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidRequest('public_key: expected a JWK object.');
  const jwk = input as Record<string, unknown>;
  if (SECRET_MEMBERS.some((m) => m in jwk)) {
    throw new InvalidRequest('public_key: this is a private or secret key; register only the public key (it never leaves where the workload runs).');
  }
  const alg = algorithmFor(jwk);
  if (alg === '') throw new InvalidRequest('public_key: expected an EC (P-256, P-384, P-521), Ed25519 or RSA public key.');
  const members = jwk['kty'] === 'RSA' ? ['kty', 'n', 'e'] : ['kty', 'crv', 'x', ...(jwk['kty'] === 'EC' ? ['y'] : [])];
  const clean: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== 'string' || (jwk[m] as string).length === 0) throw new InvalidRequest(`public_key: member ${m} is missing.`);
    clean[m] = jwk[m];
  }
  if (jwk['kty'] === 'RSA') {
    clean['alg'] = alg;
    if (Buffer.from(String(clean['n']), 'base64url').length < 256) throw new InvalidRequest('public_key: an RSA key needs at least 2048 bits.');
  }
  try {
    await importJWK(clean as JWK, alg);
  } catch {
    throw new InvalidRequest('public_key: not a valid key.');
  }
  return { publicJwk: clean, jkt: await calculateJwkThumbprint(clean as JWK) };
}
