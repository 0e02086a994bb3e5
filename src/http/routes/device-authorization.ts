import type { FastifyInstance } from 'fastify';
import { DEVICE_ATTESTATION_PARAMETER, type DeviceStatementVerifier } from '../../devices/device-attestation.js';
import type { DpopVerifier } from '../../dpop/proof.js';
import type { Metrics } from '../../observability/metrics.js';
import { ENVIRONMENT_PARAMETER, requestDeviceAuthorization, type DeviceRequestDeps } from '../../device-flow/request.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';
import { noStore } from '../oauth-reply.js';
import { dpopHeader, requestContext } from '../request-context.js';

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1 */
export function registerDeviceAuthorizationRoute(
  app: FastifyInstance,
  deps: DeviceRequestDeps & { dpop: DpopVerifier; metrics: Metrics; statements: DeviceStatementVerifier },
): void {
  const htu = `${deps.issuer}/device_authorization`;
  app.post('/device_authorization', async (request, reply) => {
    const params = formOf(request.body);
    const proof = dpopHeader(request);
    // A proof here binds the device code to the key from the very first request (RFC 9449 §10 applied to RFC 8628).
    const verified = proof ? await deps.dpop.verify(proof, { htm: 'POST', htu, now: deps.clock.now() }) : undefined;
    // The machine's device key vouching for this login's DPoP key (src/devices/device-attestation.ts).
    const statement = params.get(DEVICE_ATTESTATION_PARAMETER);
    const device = statement === undefined ? undefined : deps.statements.verify(statement, verified?.jkt ?? null);
    const response = await requestDeviceAuthorization(deps, {
      credentials: clientCredentials(request, params),
      scope: params.get('scope'),
      resources: params.getAll('resource'),
      context: requestContext(request),
      dpopJkt: verified?.jkt ?? null,
      deviceJkt: device?.deviceJkt ?? null,
      environment: params.get(ENVIRONMENT_PARAMETER),
    });
    deps.metrics.deviceCodesRequested.inc({ client: params.get('client_id') ?? 'basic' });
    return noStore(reply).send(response);
  });
}
