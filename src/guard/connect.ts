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
}

export interface ConnectedGuard {
  guard: Guard;
  stream: RevocationStream;
  keys: RemoteJwks;
  /** Stops the revocation stream. */
  close(): Promise<void>;
}

/**
 * Everything a resource server needs, wired: the issuer's keys (from its metadata), the revocation stream
 * (started; the guard answers 503 until it has caught up) and the guard. Token-claims-change events clear the
 * policy decision cache, since the facts a decision rested on may have changed.
 *
 * @example
 * const { guard } = await connectGuard({ issuer, audience, clientId, clientSecret: process.env.SECRET! });
 */
export async function connectGuard(options: ConnectGuardOptions): Promise<ConnectedGuard> {
  const logger = options.logger ?? consoleLogger;
  const { clientId, clientSecret, staleAfterMs, ...guardOptions } = options;
  const endpoints = await discoverIssuer(options.issuer, logger);
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
  const guard = new Guard({ ...guardOptions, keys, revocations: stream, logger });
  stream.subscribe((notice) => {
    if (notice.type === 'claims-change') guard.clearDecisions();
  });
  stream.start();
  return { guard, stream, keys, close: () => stream.close() };
}
