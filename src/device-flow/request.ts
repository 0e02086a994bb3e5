import { uuidv7 } from '../shared/ids.js';
import type { AuditEventInput } from '../audit/event.js';
import type { ClientRegistry } from '../clients/client-registry.js';
import { resolveRequestedAccess } from '../clients/requested-access.js';
import type { ClientCredentials } from '../clients/client-registry.js';
import { DEVICE_CODE_GRANT, MAX_DEVICE_CODE_TTL } from '../oauth/grant-types.js';
import { InvalidDpopProof, InvalidRequest, ServerError } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';
import { generateDeviceCode } from './device-code.js';
import { hashSecret } from '../shared/crypto.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { DeviceAuthorizationStore } from './device-authorization.js';
import { resourceFacts, type PolicyGate } from '../policy-gate/policy-gate.js';
import type { DeviceRequestLimits } from './request-limits.js';
import { formatUserCode, generateUserCode } from './user-code.js';

export interface DeviceAuthorizationRequest {
  credentials: ClientCredentials;
  scope: string | undefined;
  resources: readonly string[];
  context: RequestOrigin;
  /** Thumbprint of the key whose DPoP proof came with the request, binding the device code to it. */
  dpopJkt: string | null;
  /** The device key a verified device statement named (`tether_device_attestation`), vouching for `dpopJkt`. */
  deviceJkt?: string | null;
  /** What the device declares about where it runs (`tether_environment`), as sent; absent if nothing. */
  environment: string | undefined;
}

/** The form parameter a device declares its environment with ("automation" in CI, "jump_host"...). */
export const ENVIRONMENT_PARAMETER = 'tether_environment';

/**
 * A declared environment as stored and shown to policy: lowercased, a short word. It is free text for policy (a
 * class name lowers the device's trust; anything else is only `context.environment`), so it is kept small and plain.
 */
export function normalizeEnvironment(value: string | undefined): string | null {
  if (value === undefined) return null;
  const environment = value.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(environment)) {
    throw new InvalidRequest(`${ENVIRONMENT_PARAMETER} is a word of letters, digits, _ . or - (at most 64), such as automation.`);
  }
  return environment;
}

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2 */
export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export interface DeviceRequestDeps {
  issuer: string;
  clients: ClientRegistry;
  store: DeviceAuthorizationStore;
  clock: Clock;
  defaults: { codeTtl: number; interval: number };
  policy: PolicyGate;
  /** Rate and live-code caps; absent, nothing is capped (unit tests of the flow itself). */
  limits?: DeviceRequestLimits;
}

/**
 * The device authorization endpoint's work: authenticate the client, settle scope and resource, mint the two
 * codes and store the request with its context (never the device code itself).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 */
export async function requestDeviceAuthorization(
  deps: DeviceRequestDeps,
  request: DeviceAuthorizationRequest,
): Promise<DeviceAuthorizationResponse> {
  // The rate is counted before any client authentication, so a flood costs no secret hashing.
  deps.limits?.admit(request.context.ip);
  const client = await deps.clients.authenticate(request.credentials, DEVICE_CODE_GRANT, `${deps.issuer}/device_authorization`);
  await deps.limits?.checkLive(request.context.ip, client.id);
  if (client.requireDpopBinding && request.dpopJkt === null) {
    throw new InvalidDpopProof('This client must bind its device code with a DPoP proof.');
  }
  const access = resolveRequestedAccess(client, request.scope, request.resources, (uri) => deps.clients.resource(uri));
  const environment = normalizeEnvironment(request.environment);
  const now = deps.clock.now();
  // Policy decides before any code exists: a refused device never gets one to show.
  const deviceJkt = request.deviceJkt ?? null;
  // The device key's enrollment decides, when a statement named one; else the DPoP key stands for the device.
  const device = await deps.policy.device(deviceJkt ?? request.dpopJkt, environment);
  const decision = deps.policy.decide({
    step: 'device_authorization',
    now,
    client: { id: client.id },
    resource: resourceFacts(access.resource),
    device,
    scopes: access.scopes,
    requester: request.context,
    ...(environment !== null ? { environment } : {}),
  });
  if (decision.decision === 'deny') {
    throw await deps.policy.refuse('device_authorization', decision, {
      at: now,
      clientId: client.id,
      jkt: request.dpopJkt,
      data: {
        ip: request.context.ip,
        user_agent: request.context.userAgent,
        scopes: access.scopes,
        resource: access.resource.uri,
        environment,
        device_class: device.class,
      },
    });
  }
  const scopes = decision.scopes;
  const ttl = Math.min(client.deviceCodeTtl ?? deps.defaults.codeTtl, MAX_DEVICE_CODE_TTL);
  const interval = client.pollingInterval ?? deps.defaults.interval;

  // 20^12 codes against at most a few thousand live ones: a collision is rare; the unique index catches it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const userCode = generateUserCode();
    const id = uuidv7();
    // The device code names its row: the poll finds the request by primary key, then compares the hash.
    const deviceCode = generateDeviceCode(id);
    const requested: AuditEventInput = {
      type: 'device_code.requested',
      at: now,
      clientId: client.id,
      deviceAuthorizationId: id,
      jkt: request.dpopJkt,
      // Keys in sorted order: the audit chain's canonical JSON of data so written is one native JSON.stringify.
      data: {
        device_class: device.class,
        device_code_hash: deviceCode.hash,
        ...(deviceJkt !== null ? { device_jkt: deviceJkt } : {}),
        environment,
        expires_in: ttl,
        interval,
        ip: request.context.ip,
        policy: decision.reasons,
        resource: access.resource.uri,
        scopes,
        user_agent: request.context.userAgent,
        user_code_hash: hashSecret(userCode),
      },
    };
    const created = await deps.store.create({
      id,
      deviceCodeHash: deviceCode.hash,
      userCode,
      clientId: client.id,
      scopes,
      resource: access.resource.uri,
      requester: request.context,
      dpopJkt: request.dpopJkt,
      deviceJkt,
      environment,
      interval,
      createdAt: now,
      expiresAt: now + ttl,
      status: 'pending',
      decidedAt: null,
      approverUserId: null,
      approver: null,
      grantId: null,
    }, [requested]);
    if (created) {
      const display = formatUserCode(userCode);
      const verificationUri = `${deps.issuer}/device`;
      return {
        device_code: deviceCode.code,
        user_code: display,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${display}`,
        expires_in: ttl,
        interval,
      };
    }
  }
  throw new ServerError();
}
