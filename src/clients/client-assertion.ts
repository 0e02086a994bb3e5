import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { ReplayGuard } from '../dpop/replay-guard.js';
import { InvalidClient } from '../oauth/errors.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASYMMETRIC = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'];
/** An assertion is a one-shot credential: refuse ones that claim to live longer than this. */
const MAX_ASSERTION_LIFETIME = 300;

/**
 * Verifies a private_key_jwt client assertion: signed by one of the client's registered keys, iss = sub =
 * client_id, aimed at this server, short-lived and used once.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
export async function verifyClientAssertion(
  assertion: string,
  opts: { clientId: string; jwks: JSONWebKeySet; audiences: string[]; now: number; replay: ReplayGuard },
): Promise<void> {
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(opts.jwks), {
      issuer: opts.clientId,
      subject: opts.clientId,
      audience: opts.audiences,
      algorithms: ASYMMETRIC,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(opts.now * 1000),
    }));
  } catch {
    throw new InvalidClient('The client assertion is invalid.');
  }
  const exp = payload.exp as number;
  if (exp - (payload.iat ?? opts.now) > MAX_ASSERTION_LIFETIME) throw new InvalidClient('The client assertion lives too long.');
  if (!(await opts.replay.claim(`assertion:${opts.clientId}:${String(payload.jti)}`, exp))) {
    throw new InvalidClient('The client assertion was already used.');
  }
}
