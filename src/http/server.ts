import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { GrantType } from '../grant-types/grant-type.js';
import type { DeviceRequestDeps } from '../device-flow/request.js';
import type { DpopVerifier } from '../dpop/proof.js';
import type { KeyRing } from '../tokens/signing-keys.js';
import type { ClientRegistry } from '../clients/client-registry.js';
import type { DpopNonces } from '../dpop/nonce.js';
import type { IntrospectionDeps } from '../introspection/introspect.js';
import type { TokenRevocationDeps } from '../revocation/token-revocation.js';
import type { Guard } from '../guard/guard.js';
import type { Metrics } from '../observability/metrics.js';
import type { MetricsAccess } from '../observability/metrics-access.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerEventStream, type EventStreamDeps } from './routes/events.js';
import { registerAdminRoutes, type AdminDeps } from './routes/admin.js';
import { registerDemoApi } from './routes/demo-api.js';
import { registerTokenManagementRoutes } from './routes/token-management.js';
import { registerErrorHandler } from './error-handler.js';
import { registerFormBody } from './form-body.js';
import { proxyTrust } from './request-context.js';
import { lazyRequestLogger } from './request-logger.js';
import { registerDeviceAbandonRoute } from './routes/device-abandon.js';
import { registerOwnSessionRoute } from './routes/own-session.js';
import { registerDeviceAuthorizationRoute } from './routes/device-authorization.js';
import { registerDeviceEnrollmentRoute } from './routes/device-enrollment.js';
import type { DeviceStore } from '../devices/device-store.js';
import { DeviceStatementVerifier } from '../devices/device-attestation.js';
import { registerMetadataRoutes } from './routes/metadata.js';
import { registerTokenRoute } from './routes/token.js';
import { registerVerificationRoutes, type VerificationDeps } from './routes/verification.js';
import { registerWorkloadRoutes, type WorkloadRoutesDeps } from './routes/workloads.js';
import { registerScimRoutes, type ScimDeps } from './routes/scim.js';

export interface HttpDeps {
  issuer: string;
  scopes: string[];
  logger: Logger;
  /** `--trust-proxy`: believe X-Forwarded-For from a proxy on loopback. */
  trustProxy: boolean;
  /** `listen.trusted_proxies`: further proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed. */
  trustedProxies?: readonly string[];
  keys: KeyRing;
  dpop: DpopVerifier;
  deviceRequest: DeviceRequestDeps;
  grants: readonly GrantType[];
  nonces?: DpopNonces;
  clients: ClientRegistry;
  revocation: TokenRevocationDeps;
  introspection: IntrospectionDeps;
  admin: AdminDeps;
  /** The guarded demo API at /api, when the tenant has that resource. */
  demoApi?: Guard;
  verification: VerificationDeps;
  metrics: Metrics;
  /** Who may read /metrics. */
  metricsAccess: MetricsAccess;
  events: EventStreamDeps;
  /** Enrolled device keys, for `/devices/enroll`. */
  devices: DeviceStore;
  /** The workload API (`/workloads`). */
  workloads?: WorkloadRoutesDeps;
  /** Whether the server can do its work (the database answers), for `/readyz`. */
  ready: () => Promise<boolean>;
  /** SCIM 2.0 provisioning at /scim/v2 (docs/scim.md). */
  scim?: ScimDeps;
}

/** OAuth requests are small; anything bigger is a mistake or an attack. */
const BODY_LIMIT = 16 * 1024;

/** Builds the HTTP server. The only module that knows the framework. */
export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance typed with the base logger everywhere.
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Our own onResponse hook logs requests, path only: the query string may carry a user code.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is made only when a request logs (most never do): see request-logger.ts.
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: BODY_LIMIT,
    trustProxy: proxyTrust(deps.trustProxy, deps.trustedProxies ?? []),
    return503OnClosing: true,
  });
  const debug = deps.logger.isLevelEnabled('debug');
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) request.log.error({ method: request.method, path: request.routeOptions.url, status: reply.statusCode }, 'request failed');
    else if (debug) {
      request.log.debug({ method: request.method, path: request.routeOptions.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    }
    done();
  });
  registerFormBody(app);
  registerErrorHandler(app);
  registerMetadataRoutes(app, { issuer: deps.issuer, scopes: deps.scopes, keys: deps.keys });
  const statements = new DeviceStatementVerifier(deps.issuer, deps.deviceRequest.clock);
  registerDeviceAuthorizationRoute(app, { ...deps.deviceRequest, dpop: deps.dpop, metrics: deps.metrics, statements });
  registerDeviceAbandonRoute(app, { ...deps.deviceRequest, dpop: deps.dpop });
  registerOwnSessionRoute(app, { ...deps.introspection, dpop: deps.dpop });
  registerTokenRoute(app, { issuer: deps.issuer, grants: deps.grants, nonces: deps.nonces, metrics: deps.metrics });
  registerTokenManagementRoutes(app, {
    issuer: deps.issuer,
    clients: deps.clients,
    revocation: deps.revocation,
    introspection: deps.introspection,
  });
  registerDeviceEnrollmentRoute(app, { issuer: deps.issuer, dpop: deps.dpop, devices: deps.devices, clock: deps.deviceRequest.clock });
  registerAdminRoutes(app, deps.admin);
  registerEventStream(app, deps.events);
  if (deps.workloads) registerWorkloadRoutes(app, deps.workloads);
  if (deps.demoApi) registerDemoApi(app, { issuer: deps.issuer, guard: deps.demoApi });
  registerVerificationRoutes(app, deps.verification);
  if (deps.scim) registerScimRoutes(app, deps.scim);
  // Liveness: the process serves HTTP. Readiness: it can also reach its database (take it out of rotation if not).
  app.get('/healthz', (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await deps.ready();
    return reply.header('cache-control', 'no-store').code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });
  registerMetricsRoute(app, { metrics: deps.metrics, access: deps.metricsAccess });
  return app;
}
