import type { FastifyInstance } from 'fastify';
import type { DpopNonces } from '../../dpop/nonce.js';
import type { GrantType } from '../../grant-types/grant-type.js';
import { InvalidRequest, OAuthError, UnsupportedGrantType } from '../../oauth/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';
import { noStore } from '../oauth-reply.js';
import { dpopHeader, requestContext } from '../request-context.js';

/** The token endpoint: dispatches on grant_type to the registered grant handlers. */
export function registerTokenRoute(
  app: FastifyInstance,
  opts: { issuer: string; grants: readonly GrantType[]; nonces?: DpopNonces; metrics: Metrics },
): void {
  const handlers = new Map(opts.grants.map((g) => [g.type, g]));
  const htu = `${opts.issuer}/token`;
  app.post('/token', async (request, reply) => {
    // With nonces on, every answer carries the current one, so clients rarely need the extra round trip (§8.2).
    if (opts.nonces) reply.header('dpop-nonce', opts.nonces.current());
    const params = formOf(request.body);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new InvalidRequest('grant_type is required.');
    const handler = handlers.get(grantType);
    if (!handler) throw new UnsupportedGrantType('This server does not support that grant type.');
    try {
      const response = await handler.handle({
        params,
        credentials: clientCredentials(request, params),
        context: requestContext(request),
        dpopProof: dpopHeader(request),
        htu,
      });
      opts.metrics.tokenRequests.inc({ grant_type: handler.type, outcome: 'issued' });
      return noStore(reply).send(response);
    } catch (error) {
      opts.metrics.tokenRequests.inc({ grant_type: handler.type, outcome: error instanceof OAuthError ? error.code : 'server_error' });
      throw error;
    }
  });
}
