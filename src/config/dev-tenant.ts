import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT, type Config } from './schema.js';
import { hashSecret } from '../shared/crypto.js';
import { secureDataDir } from '../storage/data-dir.js';
import { generateKekText } from '../tokens/key-encryption.js';
import { parseConfig } from './load.js';
import { hashPassword, verifyPassword } from '../users/password.js';

export interface DevTenant {
  config: Config;
  /** The generated password, present only on the start that generated it: it is shown once, then only its hash exists. */
  generatedPassword?: string;
  passwordFromEnv: boolean;
  /**
   * Where the key-encryption key is: undefined when TETHER_KEK supplies it, else the file the dev tenant
   * generated inside the data dir (convenient, and no protection against a copy of the data dir).
   */
  kekFile?: string;
  /** Likewise the admin API key (TETHER_ADMIN_KEY, or generated once). */
  generatedAdminKey?: string;
  adminKeyFromEnv: boolean;
  /** The confidential client a gateway or guard reads the event stream with ({@link DEV_GATEWAY_CLIENT}). */
  gatewayClientId: string;
  /** Its secret, present only on the start that generated it (TETHER_GATEWAY_CLIENT_SECRET, or generated once). */
  generatedGatewaySecret?: string;
  gatewaySecretFromEnv: boolean;
  /** The demo API a gateway is meant to front, on the port after the issuer's (its URL is its audience). */
  gatewayApi: string | undefined;
  /** Keeps the hashes under the data directory. Called once the server listens, so a failed start keeps nothing. */
  persist(): void;
}

/** The dev tenant's resource-server client: `tether gateway` authenticates to `/events` with it. */
export const DEV_GATEWAY_CLIENT = 'tether-gateway';

interface DevState {
  alice_password_hash?: string;
  admin_key_hash?: string;
  gateway_secret_hash?: string;
}

const DEV_STATE_FILE = 'dev-tenant.json';
const DEV_KEK_FILE = 'dev-kek';

/**
 * The demo tenant of `tether serve --dev`: user alice, public client tether-cli (device_code and refresh_token,
 * read write), confidential client tether-gateway (for a gateway's event stream) and a demo API. alice's password comes from TETHER_DEV_PASSWORD, or is generated on first start,
 * printed once, and kept only as an argon2id hash under the data directory; the admin key likewise
 * (TETHER_ADMIN_KEY), kept as a SHA-256 hash.
 */
export async function devTenant(opts: { host: string; port: number; dataDir: string; env: NodeJS.ProcessEnv }): Promise<DevTenant> {
  const issuer = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  secureDataDir(opts.dataDir);
  const statePath = join(opts.dataDir, DEV_STATE_FILE);
  // The KEK: TETHER_KEK when set; otherwise one generated once into the data dir (warned about at start).
  let kekFile: string | undefined;
  if (!opts.env['TETHER_KEK']) {
    kekFile = join(opts.dataDir, DEV_KEK_FILE);
    if (!existsSync(kekFile)) writeFileSync(kekFile, `${generateKekText()}\n`, { mode: 0o600, flag: 'wx' });
  }
  const fromEnv = opts.env['TETHER_DEV_PASSWORD'];
  const state: DevState = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as DevState) : {};
  let passwordHash = state.alice_password_hash;
  let generatedPassword: string | undefined;
  if (fromEnv) {
    if (!passwordHash || !(await verifyPassword(passwordHash, fromEnv))) passwordHash = await hashPassword(fromEnv);
  } else if (!passwordHash) {
    generatedPassword = randomBytes(12).toString('base64url');
    passwordHash = await hashPassword(generatedPassword);
  }
  const adminKeyFromEnv = opts.env['TETHER_ADMIN_KEY'];
  let adminKeyHash = state.admin_key_hash;
  let generatedAdminKey: string | undefined;
  if (adminKeyFromEnv) adminKeyHash = hashSecret(adminKeyFromEnv);
  else if (!adminKeyHash) {
    generatedAdminKey = `tether_admin_${randomBytes(24).toString('base64url')}`;
    adminKeyHash = hashSecret(generatedAdminKey);
  }
  // The gateway's secret, like the admin key: from the environment (the same variable the gateway reads, so one
  // shell can run both), else generated once and shown once; only its SHA-256 is kept.
  const gatewaySecretFromEnv = opts.env['TETHER_GATEWAY_CLIENT_SECRET'];
  let gatewaySecretHash = state.gateway_secret_hash;
  let generatedGatewaySecret: string | undefined;
  if (gatewaySecretFromEnv) gatewaySecretHash = hashSecret(gatewaySecretFromEnv);
  else if (!gatewaySecretHash) {
    generatedGatewaySecret = `tether_gw_${randomBytes(24).toString('base64url')}`;
    gatewaySecretHash = hashSecret(generatedGatewaySecret);
  }
  const next: DevState = { alice_password_hash: passwordHash, admin_key_hash: adminKeyHash, gateway_secret_hash: gatewaySecretHash };
  const persist = () => {
    writeFileSync(statePath, JSON.stringify(next), { mode: 0o600 });
    secureDataDir(opts.dataDir);
  };

  const api = `${issuer}/api`;
  // An API behind `tether gateway` is its own resource: tokens for it name the gateway's URL, which is what
  // `tether request` and the proofs' htu address. The port after the issuer's, by convention.
  const gatewayApi =
    opts.port > 0 && opts.port < 65535 ? `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port + 1}` : undefined;
  const apis = gatewayApi ? [api, gatewayApi] : [api];
  const config = parseConfig(
    {
      issuer,
      listen: { host: opts.host, port: opts.port },
      data_dir: opts.dataDir,
      scopes: ['read', 'write'],
      resources: [
        { uri: api, name: 'Tether demo API', scopes: ['read', 'write'] },
        ...(gatewayApi ? [{ uri: gatewayApi, name: 'Demo API behind tether gateway', scopes: ['read', 'write'] }] : []),
      ],
      clients: [
        {
          id: 'tether-cli',
          name: 'Tether CLI',
          type: 'public',
          grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
          scopes: ['read', 'write'],
          resources: apis,
          default_resource: api,
        },
        {
          // A resource server, not a login client: it may read the revocation event stream (introspection).
          id: DEV_GATEWAY_CLIENT,
          name: 'Tether gateway (demo API)',
          type: 'confidential',
          secret_hash: gatewaySecretHash,
          scopes: ['read'],
          resources: apis,
          introspection: true,
        },
      ],
      admin: { api_key_hashes: [adminKeyHash] },
      ...(kekFile ? { keys: { kek_file: kekFile } } : {}),
      // Scrapers on this machine need no token in dev; anything else needs metrics.bearer_token_hashes.
      metrics: { allow_loopback: true },
      // A dev tenant's clients are this machine: a cap per client address would be a cap on the whole server.
      brute_force: { device_authorization: { per_ip_requests: 10_000, live_codes_per_ip: 10_000 } },
      users: [{ username: 'alice', name: 'Alice (demo)', password_hash: passwordHash, groups: ['engineering'] }],
    },
    'the dev tenant',
  );
  return {
    config,
    generatedPassword,
    passwordFromEnv: Boolean(fromEnv),
    generatedAdminKey,
    adminKeyFromEnv: Boolean(adminKeyFromEnv),
    ...(kekFile ? { kekFile } : {}),
    gatewayClientId: DEV_GATEWAY_CLIENT,
    generatedGatewaySecret,
    gatewaySecretFromEnv: Boolean(gatewaySecretFromEnv),
    gatewayApi,
    persist,
  };
}
