import type { AuditEventInput } from '../audit/event.js';
import type { ClientCredentials, ClientRegistry } from '../clients/client-registry.js';
import { DEVICE_CODE_GRANT } from '../oauth/grant-types.js';
import { InvalidGrant } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';
import { findByDeviceCode } from './device-code.js';
import type { DeviceAuthorizationStore } from './device-authorization.js';
import type { RequestOrigin } from '../oauth/request-origin.js';

export interface AbandonDeps {
  issuer: string;
  clients: ClientRegistry;
  store: DeviceAuthorizationStore;
  clock: Clock;
}

export interface AbandonRequest {
  credentials: ClientCredentials;
  deviceCode: string;
  /** Thumbprint of the key whose DPoP proof came with the request; null without a proof. */
  dpopJkt: string | null;
  context: RequestOrigin;
}

/** What became of the request: `abandoned` now, or it had already ended (denied, expired, abandoned before). */
export type AbandonOutcome = 'abandoned' | 'already_ended';

/**
 * The device gives up on its own request (its person pressed Ctrl-C): the code can no longer be approved or
 * redeemed, and a grant an approval just created is revoked. Only the code's holder may do this, proven as at
 * the token endpoint: the device code, the client, and for a DPoP-bound code a proof by that same key. A code
 * whose tokens were already issued is refused: those end by RFC 7009 revocation, not here.
 *
 * Not RFC 7009: a device code is not a token the token endpoint issued, `device_code` is no registered
 * token_type_hint, and revocation needs no proof of possession; this needs the key the code is bound to.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 (the device code, known only to the device)
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10 (a code bound to the key of its first request)
 */
export async function abandonDeviceAuthorization(deps: AbandonDeps, request: AbandonRequest): Promise<AbandonOutcome> {
  const client = await deps.clients.authenticate(request.credentials, DEVICE_CODE_GRANT, `${deps.issuer}/device_authorization/abandon`);
  const authorization = await findByDeviceCode(deps.store, request.deviceCode);
  if (!authorization || authorization.clientId !== client.id) {
    throw new InvalidGrant('The device code is unknown or was issued to another client.');
  }
  // Without the key, a leaked device code (a log, a screen) must not let anyone cancel someone else's login.
  if (authorization.dpopJkt !== null && authorization.dpopJkt !== request.dpopJkt) {
    throw new InvalidGrant('The device code is bound to a different key.');
  }
  if (authorization.status === 'redeemed') {
    throw new InvalidGrant('The device code was already used; revoke its tokens instead (RFC 7009).');
  }
  const now = deps.clock.now();
  if (authorization.status !== 'pending' && authorization.status !== 'approved') return 'already_ended';
  if (authorization.expiresAt <= now) return 'already_ended';
  const event: AuditEventInput = {
    type: 'device_code.abandoned',
    at: now,
    clientId: client.id,
    grantId: authorization.grantId,
    deviceAuthorizationId: authorization.id,
    jkt: authorization.dpopJkt,
    parent: { type: 'device_code.requested', deviceAuthorizationId: authorization.id },
    data: { ip: request.context.ip, user_agent: request.context.userAgent, previous_status: authorization.status },
  };
  return (await deps.store.abandon(authorization.id, now, [event])) ? 'abandoned' : 'already_ended';
}
