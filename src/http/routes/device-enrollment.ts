import type { FastifyInstance } from 'fastify';
import { trustOf, type DeviceStore } from '../../devices/device-store.js';
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

  /**
   * `GET /devices/self`: a device asks how the server sees its own key (`tether device status`). Proven like
   * enrollment, by a DPoP proof of the key, so the answer is only ever about the caller's key and never lists or
   * names another device; it says only the status (`not_enrolled`, `pending`, `approved`, `revoked`) and class.
   */
  const selfHtu = `${deps.issuer}/devices/self`;
  app.get('/devices/self', async (request, reply) => {
    const proof = dpopHeader(request);
    if (!proof) throw new InvalidDpopProof('Asking about a device needs a DPoP proof by its key.');
    const { jkt } = await deps.dpop.verify(proof, { htm: 'GET', htu: selfHtu, now: deps.clock.now() });
    const record = await deps.devices.get(jkt);
    return noStore(reply).send({ jkt, status: record?.status ?? 'not_enrolled', class: record ? trustOf(record)?.class ?? null : null });
  });
}
