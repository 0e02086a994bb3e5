import type { FastifyInstance } from 'fastify';
import type { Guard } from '../../guard/guard.js';

/**
 * A tiny API behind the guard, served by the dev tenant so the quick start shows the whole story: log in, call,
 * revoke, refused. It answers who the caller is, never the token.
 */
export function registerDemoApi(app: FastifyInstance, opts: { issuer: string; guard: Guard }): void {
  app.get('/api/whoami', async (request, reply) => {
    const decision = await opts.guard.check({
      method: request.method,
      url: `${opts.issuer}${request.url.split('?')[0] ?? ''}`,
      authorization: request.headers.authorization,
      dpop: request.headers['dpop'],
      // For request-time policy (context.ip / network / userAgent), after the server's trusted-proxy handling.
      ip: request.ip,
      userAgent: request.headers['user-agent'],
    });
    if (!decision.ok) {
      return reply
        .code(decision.status)
        .header('www-authenticate', decision.wwwAuthenticate)
        .header('cache-control', 'no-store')
        .send({ error: decision.error, error_description: decision.description });
    }
    const { identity } = decision;
    return reply.header('cache-control', 'no-store').send({
      sub: identity.sub,
      client_id: identity.clientId,
      scope: identity.scopes.join(' '),
      grant: identity.grantId,
      bound_to_key: identity.jkt,
      expires_at: identity.claims.exp,
    });
  });
}
