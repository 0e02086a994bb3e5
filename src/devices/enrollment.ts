import type { RequestOrigin } from '../oauth/request-origin.js';
import { InvalidRequest, OAuthError } from '../oauth/errors.js';
import type { DeviceRecord } from '../policy/device-trust.js';
import { DEVICE_CLASSES, type DeviceClass } from '../policy/types.js';
import type { Clock } from '../shared/clock.js';
import type { DeviceStore } from './device-store.js';

/** Enrollments waiting for an administrator, at most: anyone can make keys, so the queue is bounded. */
export const MAX_PENDING_ENROLLMENTS = 1000;

/** The pending queue is full; nothing was recorded. */
export class EnrollmentQueueFull extends OAuthError {
  readonly code = 'invalid_request';
  override readonly status = 429;
}

export interface EnrollmentRequest {
  /** The thumbprint of the key the request's DPoP proof was signed with. */
  jkt: string;
  /** A name a person recognises ("alice-laptop"); default: the start of the thumbprint. */
  name: string | undefined;
  /** What the device asks to be classed as; default managed. An administrator may choose otherwise. */
  requestedClass: string | undefined;
  context: RequestOrigin;
}

/**
 * A device asks for its key to be trusted: the key is recorded as pending, and counts as unmanaged until an
 * administrator approves it (`tether admin devices approve`). Enrolling an approved key again changes nothing.
 */
export async function enrollDevice(
  deps: { devices: DeviceStore; clock: Clock; maxPending?: number },
  request: EnrollmentRequest,
): Promise<DeviceRecord> {
  const name = (request.name ?? `device-${request.jkt.slice(0, 8)}`).trim();
  if (name.length === 0 || name.length > 64 || /[\x00-\x1F\x7F]/.test(name)) {
    throw new InvalidRequest('name is 1 to 64 characters, without control characters.');
  }
  const requestedClass = (request.requestedClass ?? 'managed') as DeviceClass;
  if (!DEVICE_CLASSES.includes(requestedClass)) throw new InvalidRequest(`class is one of ${DEVICE_CLASSES.join(', ')}.`);
  const existing = await deps.devices.get(request.jkt);
  if (existing?.status === 'approved') return existing;
  if (existing?.status !== 'pending' && (await deps.devices.countPending()) >= (deps.maxPending ?? MAX_PENDING_ENROLLMENTS)) {
    throw new EnrollmentQueueFull('Too many device enrollments are waiting for approval; ask an administrator.');
  }
  const now = deps.clock.now();
  return deps.devices.enroll({ jkt: request.jkt, name, requestedClass, now }, (record) => [
    {
      type: 'device.enrolled',
      at: now,
      jkt: record.jkt,
      data: {
        name: record.name,
        requested_class: record.requestedClass,
        status: record.status,
        ip: request.context.ip,
        user_agent: request.context.userAgent,
      },
    },
  ]);
}
