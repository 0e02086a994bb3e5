import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTether } from '../../app.js';
import { devTenant, type DevTenant } from '../../config/dev-tenant.js';
import { ConfigError, loadConfigFile } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../logging/logger.js';
import { LocalUserDirectory } from '../../users/local-directory.js';
import { defineCommand, portOption, UsageError, type CommandContext } from '../command.js';
import { ExitCode } from '../io.js';
import { logDestination } from '../log-text.js';

const USAGE = `Usage: tether serve (--dev | --config FILE) [--port N] [--host ADDR] [--data-dir DIR] [--trust-proxy]
       tether serve --config FILE --check

  --dev             run the demo tenant (user alice, client tether-cli) on embedded SQLite
  --config FILE     run from a YAML configuration
  --check           only validate --config FILE: exit 0 when valid, 2 naming each bad field
  --port N          listen port (dev default 8080; 0 picks a free one)
  --host ADDR       listen address (default 127.0.0.1)
  --data-dir DIR    where state is kept (dev default ./.tether-dev)
  --trust-proxy     believe X-Forwarded-For from a proxy on loopback (127.0.0.0/8, ::1); name other
                    proxies in the config's listen.trusted_proxies
  --log-format F    text or json (default: text on a terminal, json otherwise)`;

/** `tether serve`: runs the authorization server until SIGINT or SIGTERM. */
export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'run the authorization server (tether serve --dev for the demo tenant)',
  usage: USAGE,
  options: {
    dev: { type: 'boolean', default: false },
    config: { type: 'string' },
    check: { type: 'boolean', default: false },
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    'trust-proxy': { type: 'boolean', default: false },
    'log-format': { type: 'string' },
  },
  run: async ({ values }, { io }: CommandContext) => {
    if (values.dev === Boolean(values.config)) throw new UsageError('give exactly one of --dev or --config FILE');
    if (values.check && !values.config) throw new UsageError('--check validates a --config FILE');
    const format = values['log-format'];
    if (format !== undefined && format !== 'text' && format !== 'json') throw new UsageError('--log-format is text or json');
    const port = values.port === undefined ? undefined : portOption('--port', values.port);

    if (values.check) {
      try {
        loadConfigFile(values.config as string);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        io.stderr.write(`tether serve: ${error.message}\n`);
        return ExitCode.usage;
      }
      io.stdout.write(`${values.config} is a valid Tether configuration.\n`);
      return ExitCode.ok;
    }

    const logger = createLogger({ destination: logDestination(format, io.stdout) });
    let config: Config;
    let tenant: DevTenant | undefined;
    try {
      if (values.dev) {
        const dataDir = resolve(values['data-dir'] ?? '.tether-dev');
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        tenant = await devTenant({ host: values.host ?? '127.0.0.1', port: port ?? 8080, dataDir, env: io.env });
        config = tenant.config;
      } else {
        config = loadConfigFile(values.config as string);
        if (port !== undefined) config.listen.port = port;
        if (values.host) config.listen.host = values.host;
        if (values['data-dir']) config.data_dir = values['data-dir'];
      }
    } catch (error) {
      if (error instanceof ConfigError) {
        io.stderr.write(`tether serve: ${error.message}\n`);
        return ExitCode.config;
      }
      throw error;
    }

    const users = await LocalUserDirectory.create(config.users);
    let tether;
    try {
      tether = await createTether({ config, users, logger, trustProxy: values['trust-proxy'], env: io.env });
    } catch (error) {
      // A missing or wrong key-encryption key stops the start with what to set, not a stack trace.
      if (error instanceof ConfigError) {
        io.stderr.write(`tether serve: ${error.message}\n`);
        return ExitCode.config;
      }
      throw error;
    }
    let address: string;
    try {
      address = await tether.listen();
    } catch (error) {
      await tether.close().catch(() => undefined);
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw error;
      const where = `${config.listen.host}:${config.listen.port}`;
      const why =
        code === 'EADDRINUSE'
          ? `port ${config.listen.port} is already in use on ${config.listen.host} (another tether serve?)`
          : code === 'EACCES'
            ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
            : `${config.listen.host} is not an address of this machine`;
      io.stderr.write(`tether serve: cannot listen: ${why}.\n  Pick another with --port N (or --host ADDR)${values.dev ? ', e.g. npm start -- --port 8081' : ''}.\n`);
      return ExitCode.failure;
    }
    // Only now, with the port bound, are generated secrets kept: a start that fails never stores a hash whose
    // password nobody was shown.
    tenant?.persist();
    logger.info({ issuer: config.issuer, address, dev: values.dev }, 'tether listening');
    if (tenant) io.stderr.write(`${devBanner(tenant, config).join('\n')}\n`);

    await new Promise<void>((done) => {
      const stop = () => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    logger.info('shutting down');
    await tether.close();
    return ExitCode.ok;
  },
});

/** What a newcomer needs after `npm start`: where to sign in, as whom, and the next two commands to type. */
function devBanner(tenant: DevTenant, config: Config): string[] {
  const password = tenant.generatedPassword
    ? `${tenant.generatedPassword}   (generated now and shown only this once; set TETHER_DEV_PASSWORD to choose one)`
    : tenant.passwordFromEnv
      ? 'the value of TETHER_DEV_PASSWORD'
      : `the one printed at first start (set TETHER_DEV_PASSWORD to reset it)`;
  const adminKey = tenant.generatedAdminKey
    ? `${tenant.generatedAdminKey}   (shown only this once; export it as TETHER_ADMIN_KEY for tether admin)`
    : tenant.adminKeyFromEnv
      ? 'the value of TETHER_ADMIN_KEY'
      : 'the one printed at first start (set TETHER_ADMIN_KEY to replace it)';
  const gatewaySecret = tenant.generatedGatewaySecret
    ? `${tenant.generatedGatewaySecret}   # shown only this once`
    : tenant.gatewaySecretFromEnv
      ? '"$TETHER_GATEWAY_CLIENT_SECRET"   # yours, from the environment'
      : '...   # the one printed at first start (set this variable before serve --dev to choose one)';
  const api = `${config.issuer}/api`;
  return [
    '',
    '  Tether is running in DEV MODE: demo tenant, generated keys, embedded SQLite. Not for production.',
    '',
    `  Issuer:      ${config.issuer}`,
    `  Sign in at:  ${config.issuer}/device`,
    `  User:        alice`,
    `  Password:    ${password}`,
    `  Client:      tether-cli (public, device_code + refresh_token, DPoP-bound, scopes: read write)`,
    `  Admin key:   ${adminKey}`,
    `  Gateway:     export TETHER_GATEWAY_CLIENT_ID=${tenant.gatewayClientId}`,
    `               export TETHER_GATEWAY_CLIENT_SECRET=${gatewaySecret}`,
    ...(tenant.gatewayApi
      ? [`               npx tether gateway --issuer ${config.issuer} --audience ${tenant.gatewayApi} --upstream URL --port ${new URL(tenant.gatewayApi).port}`]
      : []),
    `  Data:        ${config.data_dir}`,
    tenant.kekFile
      ? `  KEK:         ${tenant.kekFile}   (WARNING: generated inside the data dir; set TETHER_KEK to keep it elsewhere)`
      : '  KEK:         the value of TETHER_KEK',
    `  Metrics:     ${config.issuer}/metrics   (loopback only without a token in dev)`,
    '',
    '  Try it, in another terminal of this checkout:',
    `    npx tether login --issuer ${config.issuer}`,
    `    npx tether exec -- curl -s ${api}/whoami`,
    '  (npx runs this checkout\'s tether; "npm link" puts tether on your PATH instead.)',
    '',
  ];
}
