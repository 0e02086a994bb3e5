import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEVICE_CODE_GRANT, type Config } from './schema.js';
import { parseConfig } from './load.js';
import { hashPassword, verifyPassword } from '../users/password.js';

export interface DevTenant {
  config: Config;
  /** The generated password, present only on the start that generated it: it is shown once, then only its hash exists. */
  generatedPassword?: string;
  passwordFromEnv: boolean;
}

const DEV_STATE_FILE = 'dev-tenant.json';

/**
 * The demo tenant of `tether serve --dev`: user alice, public client tether-cli (device_code, read write) and a
 * demo API. alice's password comes from TETHER_DEV_PASSWORD, or is generated on first start, printed once, and
 * kept only as an argon2id hash under the data directory.
 */
export async function devTenant(opts: { host: string; port: number; dataDir: string; env: NodeJS.ProcessEnv }): Promise<DevTenant> {
  const issuer = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const statePath = join(opts.dataDir, DEV_STATE_FILE);
  const fromEnv = opts.env['TETHER_DEV_PASSWORD'];
  let passwordHash: string | undefined;
  let generatedPassword: string | undefined;
  if (existsSync(statePath)) {
    passwordHash = (JSON.parse(readFileSync(statePath, 'utf8')) as { alice_password_hash?: string }).alice_password_hash;
  }
  if (fromEnv) {
    if (!passwordHash || !(await verifyPassword(passwordHash, fromEnv))) passwordHash = await hashPassword(fromEnv);
  } else if (!passwordHash) {
    generatedPassword = randomBytes(12).toString('base64url');
    passwordHash = await hashPassword(generatedPassword);
  }
  writeFileSync(statePath, JSON.stringify({ alice_password_hash: passwordHash }), { mode: 0o600 });

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
          grants: [DEVICE_CODE_GRANT],
          scopes: ['read', 'write'],
          resources: [api],
        },
      ],
      users: [{ username: 'alice', name: 'Alice (demo)', password_hash: passwordHash, groups: ['engineering'] }],
    },
    'the dev tenant',
  );
  return { config, generatedPassword, passwordFromEnv: Boolean(fromEnv) };
}
