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
  /** Keeps the hashes under the data directory. Called once the server listens, so a failed start keeps nothing. */
  persist(): void;
}

interface DevState {
  alice_password_hash?: string;
  admin_key_hash?: string;
}

const DEV_STATE_FILE = 'dev-tenant.json';
const DEV_KEK_FILE = 'dev-kek';

/**
 * The demo tenant of `tether serve --dev`: user alice, public client tether-cli (device_code and refresh_token,
 * read write) and a demo API. alice's password comes from TETHER_DEV_PASSWORD, or is generated on first start,
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
  const next: DevState = { alice_password_hash: passwordHash, admin_key_hash: adminKeyHash };
  const persist = () => {
    writeFileSync(statePath, JSON.stringify(next), { mode: 0o600 });
    secureDataDir(opts.dataDir);
  };

  const api = `${issuer}/api`;
  const config = parseConfig(
    {
      issuer,
      listen: { host: opts.host, port: opts.port },
      data_dir: opts.dataDir,
      scopes: ['read', 'write'],
      resources: [{ uri: api, name: 'Tether demo API', scopes: ['read', 'write'] }],
      clients: [
        {
          id: 'tether-cli',
          name: 'Tether CLI',
          type: 'public',
          grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
          scopes: ['read', 'write'],
          resources: [api],
        },
      ],
      admin: { api_key_hashes: [adminKeyHash] },
      ...(kekFile ? { keys: { kek_file: kekFile } } : {}),
      // Scrapers on this machine need no token in dev; anything else needs metrics.bearer_token_hashes.
      metrics: { allow_loopback: true },
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
    persist,
  };
}
