import type { FastifyInstance } from 'fastify';
import type { DeviceStore } from '../../devices/device-store.js';
import { enrollDevice } from '../../devices/enrollment.js';
import type { DpopVerifier } from '../../dpop/proof.js';
import { InvalidDpopProof } from '../../oauth/errors.js';
import type { Clock } from '../../shared/clock.js';
import { formOf } from '../form-body.js';
import { noStore } from '../oauth-reply.js';
import { dpopHeader, requestContext } from '../request-context.js';

export interface DeviceEnrollmentDeps {
  issuer: string;
  dpop: DpopVerifier;
  devices: DeviceStore;
  clock: Clock;
}

/**
 * `POST /devices/enroll`: a device asks for its DPoP key to be trusted. The request carries a DPoP proof (RFC 9449
 * §4) by that key, so only its holder can enroll it, and a form with optional `name` and `class`. The answer is the
 * record: `pending` until an administrator approves it (then the key counts as its class at every step of policy).
 */
export function registerDeviceEnrollmentRoute(app: FastifyInstance, deps: DeviceEnrollmentDeps): void {
  const htu = `${deps.issuer}/devices/enroll`;
  app.post('/devices/enroll', async (request, reply) => {
    const params = formOf(request.body);
    const proof = dpopHeader(request);
    if (!proof) throw new InvalidDpopProof('Enrollment needs a DPoP proof by the key to enroll.');
    const { jkt } = await deps.dpop.verify(proof, { htm: 'POST', htu, now: deps.clock.now() });
    const record = await enrollDevice(deps, {
      jkt,
      name: params.get('name'),
      requestedClass: params.get('class'),
      context: requestContext(request),
    });
    return noStore(reply)
      .code(record.status === 'approved' ? 200 : 202)
      .send({ jkt: record.jkt, name: record.name, requested_class: record.requestedClass, status: record.status, class: record.class });
  });
}
