import type { FastifyInstance } from 'fastify';
import { abandonDeviceAuthorization, type AbandonDeps } from '../../device-flow/abandon.js';
import type { DpopVerifier } from '../../dpop/proof.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';
import { noStore } from '../oauth-reply.js';
import { dpopHeader, requestContext } from '../request-context.js';

/** Where a device abandons its request; advertised in the metadata as `tether_device_abandon_endpoint`. */
export const DEVICE_ABANDON_PATH = '/device_authorization/abandon';

/**
 * `POST /device_authorization/abandon` with `client_id`, `device_code` and, for a bound code, a DPoP proof by
 * its key: 200 `{"status":"abandoned"}` (or `"already_ended"`), else the token endpoint's errors for the same
 * faults (`invalid_grant`, `invalid_client`, `invalid_dpop_proof`).
 *
 * @see src/device-flow/abandon.ts for why this is not RFC 7009 revocation
 */
export function registerDeviceAbandonRoute(app: FastifyInstance, deps: AbandonDeps & { dpop: DpopVerifier }): void {
  const htu = `${deps.issuer}${DEVICE_ABANDON_PATH}`;
  app.post(DEVICE_ABANDON_PATH, async (request, reply) => {
    const params = formOf(request.body);
    const proof = dpopHeader(request);
    const verified = proof ? await deps.dpop.verify(proof, { htm: 'POST', htu, now: deps.clock.now() }) : undefined;
    const status = await abandonDeviceAuthorization(deps, {
      credentials: clientCredentials(request, params),
      deviceCode: params.require('device_code'),
      dpopJkt: verified?.jkt ?? null,
      context: requestContext(request),
    });
    return noStore(reply).send({ status });
  });
}
