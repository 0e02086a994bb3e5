import { KeyObject, type webcrypto } from 'node:crypto';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { DpopVerifier } from '../dpop/proof.js';
import { Guard, type GuardRequest, type GuardResult } from './guard.js';
import type { JwsAlgorithm } from './jws.js';
import type { KeySource } from './keys.js';
import { silentLogger } from './logger.js';
import type { PolicyOptions } from './policy.js';

export type { GuardRequest };

export interface RequestGuardOptions {
  issuer: string;
  audience: string;
  /** jose's key lookup (e.g. `createLocalJWKSet(...)`), or a guard {@link KeySource}. */
  keys: JWTVerifyGetKey | KeySource;
  /** @deprecated Not used: the guard checks proofs itself, with its own replay cache. */
  dpop?: DpopVerifier;
  now: () => number;
  /** Scopes every request needs. */
  requiredScopes?: readonly string[];
  /** Whether the token's grant (or user, key, client) has been revoked, asked on every request. */
  isRevoked?: (claims: JWTPayload) => boolean | Promise<boolean>;
  /** Request-time policy, e.g. `ApiPolicy.over(serverEngine, ...)`: the server's own policies at its own API. */
  policy?: PolicyOptions;
}

/**
 * The server's in-process form of the guard, for its own demo API: the same {@link Guard} core, with keys the
 * server already holds and revocation looked up where the server keeps it, so it is never stale.
 *
 * @deprecated for new code: construct {@link Guard} directly (with `StaticJwks` and a `RevocationSource`).
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export class RequestGuard {
  private readonly guard: Guard;

  constructor(options: RequestGuardOptions) {
    const isRevoked = options.isRevoked;
    this.guard = new Guard({
      issuer: options.issuer,
      audience: options.audience,
      keys: 'getKey' in options.keys ? options.keys : joseKeys(options.keys),
      now: options.now,
      requiredScopes: options.requiredScopes,
      revocations: isRevoked && { health: () => ({ fresh: true }), isRevoked: (token) => isRevoked(token.identity.claims as JWTPayload) },
      logger: silentLogger,
      ...(options.policy ? { policy: options.policy } : {}),
    });
  }

  check(request: GuardRequest): Promise<GuardResult> {
    return this.guard.check(request);
  }
}

/** jose's key lookup as a {@link KeySource}. */
function joseKeys(getKey: JWTVerifyGetKey): KeySource {
  return {
    async getKey(kid: string | undefined, alg: JwsAlgorithm) {
      try {
        const key: unknown = await getKey({ alg, ...(kid === undefined ? {} : { kid }) }, { payload: '', signature: '' });
        if (key instanceof KeyObject) return key;
        // jose hands out WebCrypto keys; KeyObject.from refuses anything else, which lands in the catch below.
        return KeyObject.from(key as webcrypto.CryptoKey);
      } catch {
        return undefined;
      }
    },
  };
}
