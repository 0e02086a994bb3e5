import type { FastifyReply, FastifyRequest } from 'fastify';
import { refusalBody, type CheckOptions, type Guard } from '../guard.js';
import { rememberIdentity } from './identity.js';

export { identityOf } from './identity.js';

export interface FastifyGuardOptions extends CheckOptions {
  /** The origin clients use (for `htu`); default from the request, which honours Fastify's `trustProxy`. */
  publicUrl?: string;
}

/**
 * A Fastify `preHandler` (or `onRequest`) hook: refuses what the guard refuses, otherwise records the identity
 * for `identityOf(request)`. Fastify is a peer dependency of this file only.
 *
 * @example
 * app.get('/orders', { preHandler: tetherGuard(guard, { scopes: ['read'] }) }, async (req) => ({ user: identityOf(req)?.sub }));
 */
export function tetherGuard(guard: Guard, options: FastifyGuardOptions = {}): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  return async (request, reply) => {
    const origin = publicUrl ?? `${request.protocol}://${request.host}`;
    const result = await guard.check(
      {
        method: request.method,
        url: origin + request.url,
        authorization: request.headers.authorization,
        dpop: request.headers['dpop'],
        ip: request.ip,
        userAgent: request.headers['user-agent'],
        route: request.routeOptions.url,
      },
      options,
    );
    if (!result.ok) {
      // Fastify's rule for async hooks that answer early: send, then return the reply.
      return reply.code(result.status).headers(result.headers).type('application/json').send(refusalBody(result));
    }
    rememberIdentity(request, result.identity);
    return undefined;
  };
}
