import { connectGuard, type ConnectedGuard } from '../../guard/connect.js';
import { createGateway, listeningOrigin } from '../../guard/gateway.js';
import { createLogger } from '../../logging/logger.js';
import { PolicyError } from '../../policy/errors.js';
import { RESOURCE_TIERS, type ResourceTier } from '../../policy/types.js';
import { defineCommand, portOption, UsageError } from '../command.js';
import { ExitCode, type CliIO } from '../io.js';
import { logDestination } from '../log-text.js';

const USAGE = `Usage: tether gateway --issuer URL --audience AUD --upstream URL --port N [options]

Puts the Tether guard in front of an HTTP API that cannot change: every request needs a valid DPoP-bound
token and proof for AUD; the upstream gets the verified identity in X-Tether-* headers, never the token.

  --issuer URL        the Tether issuer
  --audience AUD      this API's audience URI (what tokens carry in aud)
  --upstream URL      the API to forward accepted requests to
  --port N            listen port (0 picks a free one)
  --host ADDR         listen address (default 127.0.0.1)
  --public-url URL    the origin clients use to reach the gateway (default http://HOST:PORT)
  --scope S           a scope every request needs (repeatable)
  --client-id ID      the gateway's client at the issuer (default $TETHER_GATEWAY_CLIENT_ID)
  --stale-after S     refuse everything (503) after S seconds without word from the issuer (default 10)
  --allow-bearer      also accept unbound Bearer tokens (off: DPoP only)
  --policies PATH     Cedar policies (a .cedar file or a directory) deciding every request (CallResource);
                      checked against the server's schema, reloaded on change (default: the default pack)
  --tier T            this API's tier for policy: low, medium or high (default low)
  --log-format F      text or json (default: text on a terminal, json otherwise)

The client secret is read from TETHER_GATEWAY_CLIENT_SECRET only, never from the command line.`;

/** `tether gateway`: a guarding reverse proxy, until SIGINT or SIGTERM (or `stop`, for tests). */
export function gatewayCommand(args: string[], io: CliIO, stop?: Promise<void>): Promise<number> {
  return gatewayCli(args, { io, stop });
}

export const gatewayCli = defineCommand({
  name: 'gateway',
  summary: 'put the guard in front of an existing HTTP API (reverse proxy)',
  usage: USAGE,
  options: {
    issuer: { type: 'string' },
    audience: { type: 'string' },
    upstream: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'public-url': { type: 'string' },
    scope: { type: 'string', multiple: true },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'stale-after': { type: 'string' },
    'allow-bearer': { type: 'boolean', default: false },
    policies: { type: 'string' },
    tier: { type: 'string' },
    'log-format': { type: 'string' },
  },
  run: async ({ values }, { io, stop }: { io: CliIO; stop?: Promise<void> }) => {
    const fail = (message: string): never => {
      throw new UsageError(message);
    };
    if (values['client-secret'] !== undefined) {
      // Command lines are visible to every user of the machine (ps, /proc) and kept in shell history.
      return fail('--client-secret is not accepted: put the secret in TETHER_GATEWAY_CLIENT_SECRET');
    }
    const { issuer, audience, upstream } = values;
    if (!issuer || !audience || !upstream || values.port === undefined) return fail('--issuer, --audience, --upstream and --port are required');
    for (const [flag, value] of [['--issuer', issuer], ['--upstream', upstream], ['--public-url', values['public-url']]] as const) {
      if (value !== undefined && !/^https?:\/\/[^/]/.test(value)) return fail(`${flag} must be an http(s) URL`);
    }
    const port = portOption('--port', values.port);
    const format = values['log-format'];
    if (format !== undefined && format !== 'text' && format !== 'json') return fail('--log-format is text or json');
    const staleAfter = values['stale-after'] === undefined ? 10 : Number(values['stale-after']);
    if (!Number.isFinite(staleAfter) || staleAfter < 1 || staleAfter > 3600) return fail('--stale-after must be seconds from 1 to 3600');
    const clientId = values['client-id'] ?? io.env['TETHER_GATEWAY_CLIENT_ID'];
    const clientSecret = io.env['TETHER_GATEWAY_CLIENT_SECRET'];
    if (!clientId) return fail('give --client-id (or TETHER_GATEWAY_CLIENT_ID): a client of the issuer allowed to read its event stream');
    if (!clientSecret) return fail('set TETHER_GATEWAY_CLIENT_SECRET to the secret of that client');
    const tier = (values.tier ?? 'low') as ResourceTier;
    if (!RESOURCE_TIERS.includes(tier)) return fail(`--tier must be one of ${RESOURCE_TIERS.join(', ')}`);
    const host = values.host ?? '127.0.0.1';
    if (values['public-url'] === undefined && (host === '0.0.0.0' || host === '::')) {
      // Proofs name the URL clients call; no client calls 0.0.0.0, and the Host header is never trusted for it.
      return fail('give --public-url when listening on every address: proofs must name the URL clients use');
    }

    const logger = createLogger({ destination: logDestination(format, io.stdout) });
    let connected: ConnectedGuard;
    try {
      connected = await connectGuard({
        issuer,
        audience,
        clientId,
        clientSecret,
        staleAfterMs: staleAfter * 1000,
        allowBearer: values['allow-bearer'],
        logger,
        ...(values.policies !== undefined ? { policies: values.policies } : {}),
        policyOptions: { tier },
      });
    } catch (error) {
      // A policy set that cannot be used stops start-up, as it does for the server.
      if (!(error instanceof PolicyError)) throw error;
      io.stderr.write(`tether gateway: the policies at ${values.policies ?? '(default pack)'} cannot be used (${error.code}):\n${error.message}\n`);
      return ExitCode.config;
    }
    // Wrong client credentials never heal by retrying: say so and stop, instead of redialling forever.
    let refused!: (reason: string) => void;
    const credentialsRefused = new Promise<string>((resolve) => (refused = resolve));
    connected.stream.subscribe((notice) => {
      if (notice.type === 'disconnected' && /HTTP 40[13]\b/.test(notice.reason)) refused(notice.reason);
    });
    const gateway = createGateway({ guard: connected.guard, upstream, publicUrl: values['public-url'], scopes: values.scope, logger });
    await new Promise<void>((resolve, reject) => {
      gateway.once('error', reject);
      gateway.listen(port, host, resolve);
    });
    // The gateway checks proofs' htu against exactly this origin, never the Host header.
    const publicUrl = values['public-url'] ?? listeningOrigin(gateway);
    logger.info({ publicUrl, upstream, issuer, audience }, 'tether gateway listening');
    io.stderr.write(
      [
        '',
        `  Tether gateway: ${publicUrl} -> ${upstream}`,
        `  Tokens from ${issuer} for ${audience}; revocations pushed from the issuer.`,
        values.policies
          ? `  Policy: ${values.policies} (tier ${tier}), decided for every request, reloaded on change.`
          : `  Policy: the default pack (tier ${tier}), decided for every request; --policies PATH for your own.`,
        `  Until the revocation stream has caught up, and whenever it is silent for ${staleAfter} s, every request gets 503.`,
        '',
      ].join('\n') + '\n',
    );

    const stopped = stop ??
      new Promise<void>((done) => {
        process.once('SIGINT', () => done());
        process.once('SIGTERM', () => done());
      });
    const refusal = await Promise.race([stopped.then(() => undefined), credentialsRefused]);
    if (refusal !== undefined) {
      io.stderr.write(
        `tether gateway: ${issuer} refused this gateway's client credentials (${refusal.replace(/^the event stream answered /, '')}).\n` +
          `  Check --client-id (${clientId}) and TETHER_GATEWAY_CLIENT_SECRET, and that the client may read the event stream.\n`,
      );
    }
    logger.info('gateway shutting down');
    await connected.close();
    const closed = new Promise<void>((resolve) => gateway.close(() => resolve()));
    gateway.closeAllConnections();
    await closed;
    gateway.closeUpstream();
    return refusal === undefined ? ExitCode.ok : ExitCode.unauthorized;
  },
});
