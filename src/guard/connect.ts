import { ApiPolicy, type ApiPolicyOptions } from './api-policy.js';
import { discoverIssuer } from './discovery.js';
import { Guard, type GuardOptions } from './guard.js';
import { RemoteJwks } from './keys.js';
import { consoleLogger, type GuardLogger } from './logger.js';
import { RevocationStream } from './revocation-stream.js';

export interface ConnectGuardOptions extends Omit<GuardOptions, 'keys' | 'revocations' | 'logger'> {
  /** The resource server's client at the issuer, allowed to subscribe to revocation events. */
  clientId: string;
  /** Read it from the environment or a secret store, never from a command line. */
  clientSecret: string;
  /** Fail closed after this long without hearing from the issuer (default 10 s). */
  staleAfterMs?: number;
  logger?: GuardLogger;
  /**
   * Request-time Cedar policy (`CallResource`) for every request: a `.cedar` file or directory, validated against
   * the server's schema and reloaded on change. Absent: the default pack. Ignored when `policy` (a hook of your
   * own) is given; `false` turns request-time policy off.
   */
  policies?: string | false;
  /** This API's tier, networks and time zone for policy, as the server's configuration has them. */
  policyOptions?: Pick<ApiPolicyOptions, 'tier' | 'networks' | 'timeZone' | 'debounceMs' | 'onReload' | 'cacheSize'>;
}

export interface ConnectedGuard {
  guard: Guard;
  stream: RevocationStream;
  keys: RemoteJwks;
  /** The Cedar policy the guard asks, unless a `policy` hook was given or policy was turned off. */
  policy: ApiPolicy | undefined;
  /** Stops the revocation stream and the policy watcher. */
  close(): Promise<void>;
}

/**
 * Everything a resource server needs, wired: the issuer's keys (from its metadata), the revocation stream
 * (started; the guard answers 503 until it has caught up), request-time Cedar policy (`policies`, else the
 * default pack) and the guard. Token-claims-change events clear the policy decision cache, since the facts a
 * decision rested on may have changed.
 *
 * @example
 * const { guard } = await connectGuard({ issuer, audience, clientId, clientSecret: process.env.SECRET! });
 */
export async function connectGuard(options: ConnectGuardOptions): Promise<ConnectedGuard> {
  const logger = options.logger ?? consoleLogger;
  const { clientId, clientSecret, staleAfterMs, policies, policyOptions, ...guardOptions } = options;
  // Policies first: a set that cannot be used stops start-up before anything connects.
  const policy =
    guardOptions.policy || policies === false
      ? undefined
      : await ApiPolicy.load({ ...policyOptions, policies: policies, audience: options.audience, logger });
  const endpoints = await discoverIssuer(options.issuer, logger).catch((error: unknown) => {
    policy?.close();
    throw error;
  });
  const keys = new RemoteJwks({ url: endpoints.jwksUri, logger });
  const stream = new RevocationStream({
    issuer: options.issuer,
    eventsUrl: endpoints.eventsUrl,
    clientId,
    clientSecret,
    keys,
    staleAfterMs,
    logger,
    now: options.now,
  });
  const guard = new Guard({ ...guardOptions, keys, revocations: stream, logger, ...(policy ? { policy } : {}) });
  stream.subscribe((notice) => {
    if (notice.type === 'claims-change') guard.clearDecisions();
  });
  stream.start();
  return {
    guard,
    stream,
    keys,
    policy,
    close: () => {
      policy?.close();
      return stream.close();
    },
  };
}
