import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createTether } from '../../app.js';
import { devTenant } from '../../config/dev-tenant.js';
import { ConfigError, loadConfigFile } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger } from '../../logging/logger.js';
import { LocalUserDirectory } from '../../users/local-directory.js';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage: tether serve (--dev | --config FILE) [--port N] [--host ADDR] [--data-dir DIR] [--trust-proxy]

  --dev           run the demo tenant (user alice, client tether-cli) on embedded SQLite
  --config FILE   run from a YAML configuration
  --port N        listen port (dev default 8080; 0 picks a free one)
  --host ADDR     listen address (default 127.0.0.1)
  --data-dir DIR  where state is kept (dev default ./.tether-dev)
  --trust-proxy   believe X-Forwarded-For from a proxy on loopback (127.0.0.0/8, ::1); name other
                  proxies in the config's listen.trusted_proxies`;

/** `tether serve`: runs the authorization server until SIGINT or SIGTERM. */
export async function serveCommand(args: string[], io: CliIO): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        dev: { type: 'boolean', default: false },
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'trust-proxy': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    io.stderr.write(`tether serve: ${(error as Error).message}\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  if (values.dev === Boolean(values.config)) {
    io.stderr.write(`tether serve: give exactly one of --dev or --config FILE\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    io.stderr.write(`tether serve: --port must be a number from 0 to 65535\n`);
    return ExitCode.usage;
  }

  const logger = createLogger({ destination: io.stdout });
  let config: Config;
  let banner: string[] = [];
  try {
    if (values.dev) {
      const dataDir = resolve(values['data-dir'] ?? '.tether-dev');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const tenant = await devTenant({ host: values.host ?? '127.0.0.1', port: port ?? 8080, dataDir, env: io.env });
      config = tenant.config;
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
      banner = [
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
          ? [`               tether gateway --issuer ${config.issuer} --audience ${tenant.gatewayApi} --upstream URL --port ${new URL(tenant.gatewayApi).port}`]
          : []),
        `  Data:        ${config.data_dir}`,
        tenant.kekFile
          ? `  KEK:         ${tenant.kekFile}   (WARNING: generated inside the data dir; set TETHER_KEK to keep it elsewhere)`
          : '  KEK:         the value of TETHER_KEK',
        `  Metrics:     ${config.issuer}/metrics   (loopback only without a token in dev)`,
        '',
        `  Try it:      curl -s -d client_id=tether-cli ${config.issuer}/device_authorization`,
        '',
      ];
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
      io.stderr.write(`tether serve: ${(error as Error).message}\n`);
      return ExitCode.config;
    }
    throw error;
  }
  const address = await tether.listen();
  logger.info({ issuer: config.issuer, address, dev: values.dev }, 'tether listening');
  if (banner.length > 0) io.stderr.write(`${banner.join('\n')}\n`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('shutting down');
  await tether.close();
  return ExitCode.ok;
}
