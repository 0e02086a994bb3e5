import type { VerifiedIdentity } from '../access-token.js';

/**
 * Where an accepted request's identity is kept: a property under a symbol only this module holds, on the
 * framework's own request object (no string key can reach it; it shows in no enumeration of the request's keys). A
 * WeakMap entry per request cost more than the rest of the adapter's work together (its table is shared, its keys
 * die young, and the GC sweeps them out one by one); it stays for a request object that takes no property.
 */
const IDENTITY = Symbol('tether.guard.identity');
const frozenRequests = new WeakMap<object, Readonly<VerifiedIdentity>>();

type Holder = { [IDENTITY]?: Readonly<VerifiedIdentity> };

/** Records the identity the guard verified for `request`. */
export function rememberIdentity(request: object, identity: Readonly<VerifiedIdentity>): void {
  if (Object.isExtensible(request)) (request as Holder)[IDENTITY] = identity;
  else frozenRequests.set(request, identity);
}

/**
 * The identity the guard verified for this request (Node `IncomingMessage`, Express `Request` or Fastify
 * `FastifyRequest`), or undefined if the guard has not accepted it.
 */
export function identityOf(request: object): Readonly<VerifiedIdentity> | undefined {
  return Object.hasOwn(request, IDENTITY) ? (request as Holder)[IDENTITY] : frozenRequests.get(request);
}
