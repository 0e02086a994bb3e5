import type { FastifyInstance } from 'fastify';
import type { MetricsAccess } from '../../observability/metrics-access.js';
import type { Metrics } from '../../observability/metrics.js';
import { noStore } from '../oauth-reply.js';

/**
 * `GET /metrics`: Prometheus text for a scraper holding a configured bearer token (or, where allowed, a peer on
 * loopback). Anyone else gets the RFC 6750 §3.1 challenge and no numbers.
 */
export function registerMetricsRoute(app: FastifyInstance, deps: { metrics: Metrics; access: MetricsAccess }): void {
  app.get('/metrics', async (request, reply) => {
    if (!deps.access.allows(request.headers.authorization, request.socket.remoteAddress)) {
      return noStore(reply)
        .code(401)
        .header('www-authenticate', 'Bearer realm="tether-metrics", error="invalid_token"')
        .send({ error: 'invalid_token', error_description: 'The metrics need a configured bearer token (metrics.bearer_token_hashes).' });
    }
    return noStore(reply).type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
