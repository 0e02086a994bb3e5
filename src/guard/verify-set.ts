import { SET_TYPE } from '../events/security-event.js';
import { decodeSegment, isJwsAlgorithm, splitCompactJws, verifyJws, type JwsAlgorithm } from '../dpop/jws.js';
import type { KeySource } from './keys.js';

/**
 * Verifies a Security Event Token from the issuer's stream: signed by one of the issuer's keys with an allowed
 * algorithm, typ secevent+jwt, no critical extensions, iss the issuer, an `events` object. Throws with a short
 * reason otherwise; returns the claims.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8417#section-2.2
 */
export async function verifySecurityEventToken(
  token: string,
  expected: { issuer: string; keys: KeySource; algorithms: readonly JwsAlgorithm[] },
): Promise<Record<string, unknown>> {
  const jws = splitCompactJws(token);
  const header = jws && decodeSegment(jws.rawHeader);
  if (!jws || !header) throw new Error('not a JWT');
  const typ = header['typ'];
  if (typeof typ !== 'string' || typ.replace(/^application\//i, '').toLowerCase() !== SET_TYPE) throw new Error('typ is not secevent+jwt');
  const alg = header['alg'];
  if (!isJwsAlgorithm(alg) || !expected.algorithms.includes(alg)) throw new Error('alg not allowed');
  if ('crit' in header) throw new Error('critical header extensions');
  const kid = header['kid'];
  const key = await expected.keys.getKey(typeof kid === 'string' ? kid : undefined, alg);
  if (!key) throw new Error('signed by a key the issuer does not publish');
  if (!verifyJws(alg, key, jws.signingInput, jws.signature)) throw new Error('bad signature');
  const claims = decodeSegment(jws.rawPayload);
  if (!claims) throw new Error('payload is not a JSON object');
  if (claims['iss'] !== expected.issuer) throw new Error('iss is not the issuer');
  if (typeof claims['events'] !== 'object' || claims['events'] === null) throw new Error('no events');
  return claims;
}
