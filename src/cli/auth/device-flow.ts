import type { ServerMetadata } from './discovery.js';
import { ClientError } from './errors.js';
import { dpopFormPost, oauthErrorOf, type DpopPostContext } from './oauth-http.js';
import { processTokenResponse, type TokenSet } from './token-response.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: without `interval`, clients wait 5 seconds between polls. */
export const DEFAULT_INTERVAL = 5;
/** RFC 8628 §3.5: slow_down adds 5 seconds to the interval, for this and every later poll. */
export const SLOW_DOWN_STEP = 5;
const MAX_INTERVAL = 60;
/** Consecutive transport failures tolerated while polling (with growing waits) before giving up. */
const MAX_POLL_FAILURES = 5;

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2 */
export interface DeviceAuthorization {
  /** Secret: sent only back to the token endpoint, never printed. */
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresIn: number;
  interval: number;
}

export interface DeviceAuthorizationParams {
  clientId: string;
  scope?: string | undefined;
  resource?: string | undefined;
  /** The environment class the device declares (tether_environment), for the server's policy. */
  environment?: string | undefined;
  /** A device statement by this machine's device key vouching for the request's DPoP key (docs/cli.md). */
  deviceAttestation?: string | undefined;
}

/**
 * Asks for a device code and a user code. The request carries a DPoP proof, so the server binds the device code
 * to this key from the first request: whoever intercepts the code cannot redeem it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10
 */
export async function deviceAuthorizationRequest(
  ctx: DpopPostContext,
  metadata: ServerMetadata,
  params: DeviceAuthorizationParams,
): Promise<DeviceAuthorization> {
  const form = new URLSearchParams({ client_id: params.clientId });
  if (params.scope) form.set('scope', params.scope);
  if (params.resource) form.set('resource', params.resource);
  if (params.environment) form.set('tether_environment', params.environment);
  if (params.deviceAttestation) form.set('tether_device_attestation', params.deviceAttestation);
  const reply = await dpopFormPost(ctx, metadata.device_authorization_endpoint, form);
  if (reply.status !== 200) throw oauthErrorOf(reply, 'The device authorization request');
  return processDeviceAuthorizationResponse(reply.body);
}

/** Checks the §3.2 response fields; the verification URIs must be safe to show and open. */
export function processDeviceAuthorizationResponse(body: Record<string, unknown>): DeviceAuthorization {
  const { device_code, user_code, verification_uri, verification_uri_complete, expires_in, interval } = body;
  if (typeof device_code !== 'string' || device_code.length === 0) throw invalid('device_code');
  if (typeof user_code !== 'string' || !/^[\x21-\x7E -]{1,64}$/.test(user_code)) throw invalid('user_code');
  if (!isWebUrl(verification_uri)) throw invalid('verification_uri');
  if (typeof expires_in !== 'number' || !(expires_in > 0)) throw invalid('expires_in');
  const complete = isWebUrl(verification_uri_complete) ? verification_uri_complete : undefined;
  return {
    deviceCode: device_code,
    userCode: user_code,
    verificationUri: verification_uri,
    ...(complete ? { verificationUriComplete: complete } : {}),
    expiresIn: expires_in,
    interval: typeof interval === 'number' && interval >= 1 ? Math.min(interval, MAX_INTERVAL) : DEFAULT_INTERVAL,
  };
}

export interface PollOptions {
  clientId: string;
  /** Seconds since the epoch. */
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Told before each wait, so a spinner can show the pace and the time left. */
  onWait?: (info: { intervalSeconds: number; slowedDown: boolean }) => void;
  /**
   * Told after every poll whether the server answered; `silentSince` is when the current run of unanswered polls
   * began (the start of the first), so a caller can say the server has been unreachable for a while.
   */
  onContact?: (info: { answered: boolean; silentSince: number | undefined }) => void;
}

/**
 * Polls the token endpoint until the person decides or the code expires: waits `interval` seconds between polls,
 * adds 5 seconds on `slow_down`, backs off on transport errors, and gives up at the code's expiry. Every poll
 * carries a fresh DPoP proof by the key the device code is bound to.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export async function pollDeviceAuthorization(
  ctx: DpopPostContext,
  metadata: ServerMetadata,
  authorization: DeviceAuthorization,
  options: PollOptions,
): Promise<TokenSet> {
  const deadline = options.now() + authorization.expiresIn;
  let interval = authorization.interval;
  let slowedDown = false;
  let failures = 0;
  let silentSince: number | undefined;
  for (;;) {
    options.onWait?.({ intervalSeconds: interval, slowedDown });
    await options.sleep(interval * 1000, options.signal);
    if (options.signal?.aborted) throw new ClientError('interrupted', 'stopped');
    if (options.now() >= deadline) throw expired();
    const form = new URLSearchParams({
      grant_type: DEVICE_CODE_GRANT,
      device_code: authorization.deviceCode,
      client_id: options.clientId,
    });
    let reply;
    const startedAt = options.now();
    try {
      reply = await dpopFormPost(ctx, metadata.token_endpoint, form);
    } catch (error) {
      if (!(error instanceof ClientError) || error.code !== 'network') throw error;
      silentSince ??= startedAt;
      options.onContact?.({ answered: false, silentSince });
      // §3.5: on a connection problem, poll less often rather than hammer a struggling server.
      if (++failures >= MAX_POLL_FAILURES) throw error;
      interval = Math.min(interval * 2, MAX_INTERVAL);
      continue;
    }
    failures = 0;
    slowedDown = false;
    silentSince = undefined;
    options.onContact?.({ answered: true, silentSince });
    if (reply.status === 200) return processTokenResponse(reply.body, options.now());
    switch (reply.body['error']) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        interval = Math.min(interval + SLOW_DOWN_STEP, MAX_INTERVAL);
        slowedDown = true;
        continue;
      case 'access_denied':
        throw new ClientError('access_denied', 'the request was denied', 'access_denied');
      case 'expired_token':
        throw expired();
      default:
        throw oauthErrorOf(reply, 'Waiting for approval');
    }
  }
}

function expired(): ClientError {
  return new ClientError('expired_token', 'the code expired before it was approved', 'expired_token');
}

function invalid(field: string): ClientError {
  return new ClientError('invalid_response', `the device authorization response has no valid ${field}`);
}

function isWebUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
