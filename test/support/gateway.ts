import type { Server } from 'node:http';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import { connectGuard, type ConnectGuardOptions, type ConnectedGuard } from '../../src/guard/connect.js';
import { createGateway } from '../../src/guard/gateway.js';
import type { GuardLogger } from '../../src/guard/logger.js';
import { listen, memoryLogger, startUpstream, until } from '../guard/support.js';
import { captureIo } from './cli-io.js';
import { GATEWAY_SECRET, type TestServer } from './in-process.js';
import { ath, type LoggedIn } from './tokens.js';

export type Upstream = Awaited<ReturnType<typeof startUpstream>>;

/** A gateway in front of a recording upstream; `close()` stops both (the Tether server is the caller's). */
export interface GatewayUnderTest {
  upstream: Upstream;
  /** The gateway's origin, `http://127.0.0.1:PORT`. */
  base: string;
  close(): Promise<void>;
}

export interface InProcessGateway extends GatewayUnderTest {
  connected: ConnectedGuard;
  gateway: Server & { closeUpstream(): void };
}

export interface InProcessGatewayOptions {
  /** For the guard and the gateway both (default: a fresh {@link memoryLogger}). */
  logger?: GuardLogger;
  /** Scopes every request through the gateway needs. */
  scopes?: readonly string[];
  /** More for {@link connectGuard}: a clock, a policy directory, nonces, a staleness limit. */
  guard?: Omit<Partial<ConnectGuardOptions>, 'logger'>;
}

/**
 * `createGateway` in process: a guard connected to `server` as the `api-gateway` client, in front of a recording
 * upstream, listening on a free port. The revocation stream is started but not awaited: call
 * `connected.stream.ready()` (often alongside a login).
 */
export async function startGateway(server: TestServer, options: InProcessGatewayOptions = {}): Promise<InProcessGateway> {
  const logger = options.logger ?? memoryLogger();
  const upstream = await startUpstream();
  const connected = await connectGuard({
    issuer: server.issuer,
    audience: server.api,
    clientId: 'api-gateway',
    clientSecret: GATEWAY_SECRET,
    logger,
    ...options.guard,
  });
  const gateway = createGateway({ guard: connected.guard, upstream: upstream.url, logger, ...(options.scopes ? { scopes: options.scopes } : {}) });
  const base = `http://127.0.0.1:${await listen(gateway)}`;
  return {
    upstream,
    connected,
    gateway,
    base,
    async close() {
      await connected.close();
      gateway.closeAllConnections();
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
      gateway.closeUpstream();
      await upstream.close();
    },
  };
}

/**
 * The real `tether gateway` command (in process, `--port 0`) against `server`, in front of a recording upstream;
 * resolves once it has printed its banner with the address.
 */
export async function startGatewayCommand(server: TestServer): Promise<GatewayUnderTest> {
  const upstream = await startUpstream();
  const cli = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: GATEWAY_SECRET, TETHER_GATEWAY_CLIENT_ID: 'api-gateway' });
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const run = gatewayCommand(['--issuer', server.issuer, '--audience', server.api, '--upstream', upstream.url, '--port', '0'], cli, stopped);
  await until(() => /Tether gateway: (http:\/\/\S+)/.test(cli.err()), 10_000, 'the gateway banner');
  const base = /Tether gateway: (http:\/\/\S+)/.exec(cli.err())?.[1] as string;
  return {
    upstream,
    base,
    async close() {
      stop();
      await run;
      await upstream.close();
    },
  };
}

/** The status of a DPoP `GET base + path` with `session`'s token and a fresh proof. */
export async function dpopGetStatus(base: string, session: LoggedIn, path = '/orders'): Promise<number> {
  const url = `${base}${path}`;
  const proof = await session.key.proof('GET', url, { ath: await ath(session.accessToken) });
  return (await fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof } })).status;
}
