import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { SIGNING_ALG, type KeyRing } from './signing-keys.js';

/**
 * The server's check that an access token is one it issued (for introspection and revocation): signed by a
 * published key, typ at+jwt, our issuer. Expiry is checked against the injected clock. Returns the claims, or
 * undefined for anything else. A resource server uses the guard's `AccessTokenVerifier` instead, which also binds
 * the token to its audience and proof.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export class IssuedTokenVerifier {
  private readonly jwks;

  constructor(
    keys: KeyRing,
    private readonly issuer: string,
  ) {
    this.jwks = createLocalJWKSet(keys.jwks());
  }

  async verify(token: string, now: number): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
        currentDate: new Date(now * 1000),
        requiredClaims: ['jti', 'sid', 'exp', 'sub'],
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
