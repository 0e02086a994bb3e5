import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** crypto.hash, one-shot: Node 20.12 and later (package.json allows 20.11, which builds a Hash object instead). */
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

/**
 * SHA-256 of a secret as base64url: how device codes, sessions and refresh tokens are stored. One-shot where Node
 * has it: on the hot paths a Hash object per call cost more than the digest.
 */
export const hashSecret: (secret: string) => string = oneShot
  ? (secret) => oneShot('sha256', secret, 'base64url')
  : (secret) => createHash('sha256').update(secret, 'utf8').digest('base64url');

/** `bytes` random bytes as base64url text. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  // Hash both first so the comparison also hides the lengths.
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Compares two digests of the same algorithm and encoding (such as two `hashSecret` results) in time independent
 * of where they differ. Their length is public (the algorithm's), so unlike constantTimeEqual they are not hashed
 * again; a length mismatch (a malformed stored value) is simply unequal.
 */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}
