import { jwtVerify, type JWTPayload } from 'jose';
import { SIGNING_ALG, type KeyRing } from './signing-keys.js';

/**
 * The server's check that an access token is one it issued (for introspection and revocation): signed by a
 * published key, typ at+jwt, our issuer. Expiry is checked against the injected clock. Returns the claims, or
 * undefined for anything else. Keys are looked up at each call, so a rotated-in key verifies as soon as it is
 * published and a retired one stops at once. A resource server uses the guard's `AccessTokenVerifier` instead,
 * which also binds the token to its audience and proof.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export class IssuedTokenVerifier {
  constructor(
    private readonly keys: KeyRing,
    private readonly issuer: string,
  ) {}

  async verify(token: string, now: number): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = await this.keys.getKey(header.kid, header.alg);
          if (!key) throw new Error('no such key');
          return key;
        },
        {
          issuer: this.issuer,
          typ: 'at+jwt',
          algorithms: [SIGNING_ALG],
          currentDate: new Date(now * 1000),
          requiredClaims: ['jti', 'sid', 'exp', 'sub'],
        },
      );
      return payload;
    } catch {
      return undefined;
    }
  }
}
