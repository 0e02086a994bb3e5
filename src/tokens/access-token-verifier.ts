import { jwtVerify, type JWTPayload } from 'jose';
import { SIGNING_ALG, type KeyRing } from './signing-keys.js';

/**
 * Checks that an access token is one of ours: signed by a published key, typ at+jwt, our issuer. Expiry is
 * checked against the injected clock. Returns the claims, or undefined for anything else. Keys are looked up at
 * each call, so a rotated-in key verifies as soon as it is published and a retired one stops at once.
 */
export class AccessTokenVerifier {
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
