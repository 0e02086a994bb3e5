import type { VerifiedIdentity } from '../access-token.js';

// Keyed by the framework's own request object, so no adapter has to add a property to a type it does not own.
const identities = new WeakMap<object, Readonly<VerifiedIdentity>>();

/** Records the identity the guard verified for `request`. */
export function rememberIdentity(request: object, identity: Readonly<VerifiedIdentity>): void {
  identities.set(request, identity);
}

/**
 * The identity the guard verified for this request (Node `IncomingMessage`, Express `Request` or Fastify
 * `FastifyRequest`), or undefined if the guard has not accepted it.
 */
export function identityOf(request: object): Readonly<VerifiedIdentity> | undefined {
  return identities.get(request);
}
