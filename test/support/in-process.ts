import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createTether, type Tether } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT } from '../../src/oauth/grant-types.js';
import { hashSecret } from '../../src/shared/crypto.js';
import { createLogger } from '../../src/logging/logger.js';
import type { Clock } from '../../src/shared/clock.js';
import { LocalUserDirectory } from '../../src/users/local-directory.js';
import { hashPassword } from '../../src/users/password.js';
import { freePort } from './ports.js';

export const TEST_PASSWORD = 'correct horse battery staple';
export const ADMIN_KEY = 'tether_admin_test_key_0123456789abcdefghijklmnop';
export const GATEWAY_SECRET = 'gateway-secret-for-introspection-0123456789';
/** The key-encryption key of every test server's signing keys (32 bytes, base64url). */
export const TEST_KEK = 'dGV0aGVyLXRlc3Qta2VrLTMyLWJ5dGVzLWxvbmctISE';
let passwordHash: Promise<string> | undefined;

export interface TestServer {
  issuer: string;
  api: string;
  tether: Tether;
  config: Config;
  /** Every log line the server wrote. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts a real Tether (real HTTP, real SQLite in a temporary folder) inside the test process. `overrides` is
 * merged into a small tenant: users alice and bob, public client tether-cli (with refresh tokens), confidential
 * client ci-bot, resource server api-gateway (may introspect tokens for the test API), and an admin key.
 */
export async function startServer(overrides: Record<string, unknown> = {}, clock?: Clock): Promise<TestServer> {
  // The port is chosen before the server listens (the issuer must name it), so something else can take it in
  // between: another test file's server, or an outgoing connection given it as its ephemeral port. Then start
  // again on another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(overrides, clock);
    } catch (error) {
      if (attempt >= 3 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}

async function startServerOnce(overrides: Record<string, unknown>, clock: Clock | undefined): Promise<TestServer> {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const hash = await passwordHash;
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const api = `${issuer}/api`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-test-'));
  // `extra_clients` adds to the default clients instead of replacing them; a function gets the test API's URI.
  // `extra_resources` likewise adds to the default resources.
  // `trust_proxy: true` makes the server take the client address from X-Forwarded-For (tests of networks).
  const {
    extra_clients: extra = [],
    extra_resources: extraResources = [],
    trust_proxy: trustProxy = false,
    api_tier: apiTier,
    ...rest
  } = overrides as { extra_clients?: unknown[] | ((api: string) => unknown[]); extra_resources?: unknown[]; trust_proxy?: boolean; api_tier?: string };
  const extraClients = typeof extra === 'function' ? extra(api) : extra;
  const config = parseConfig(
    {
      issuer,
      listen: { host: '127.0.0.1', port },
      data_dir: dataDir,
      scopes: ['read', 'write', 'admin'],
      resources: [
        // `api_tier: 'high'` puts the test API under the default pack's high-tier rules (a managed device...).
        { uri: api, name: 'Test API', scopes: ['read', 'write'], ...(apiTier ? { tier: apiTier } : {}) },
        { uri: 'https://payroll.example', name: 'Payroll', scopes: ['read', 'admin'], access_token_ttl: '2m' },
        ...extraResources,
      ],
      clients: [
        {
          id: 'tether-cli',
          name: 'Tether CLI',
          grants: [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT],
          scopes: ['read', 'write', 'admin'],
          resources: [api, 'https://payroll.example'],
          default_resource: api,
        },
        {
          id: 'ci-bot',
          name: 'CI Bot',
          type: 'confidential',
          secret: 'a-very-long-client-secret-for-tests-0123456789',
          grants: [DEVICE_CODE_GRANT],
          scopes: ['read'],
          resources: [api],
        },
        {
          id: 'api-gateway',
          name: 'API gateway',
          type: 'confidential',
          secret: GATEWAY_SECRET,
          grants: [DEVICE_CODE_GRANT],
          resources: [api],
          introspection: true,
        },
        ...extraClients,
      ],
      admin: { api_key_hashes: [hashSecret(ADMIN_KEY)] },
      // Every test's requests come from 127.0.0.1, so the per-address caps on device codes would make one address of
      // a whole test file. Tests of those limits pass their own `brute_force`.
      brute_force: { device_authorization: { per_ip_requests: 100_000, live_codes_per_ip: 100_000 } },
      users: [
        // Groups reach tokens as the `groups` claim, which API policies read.
        { username: 'alice', name: 'Alice', password_hash: hash, groups: ['engineering'] },
        { username: 'bob', name: 'Bob', password_hash: hash, groups: ['contractors'] },
      ],
      ...rest,
    },
    'test config',
  );
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const env = { TETHER_KEK: TEST_KEK };
  const tether = await createTether({ config, users: await LocalUserDirectory.create(config.users), logger, clock, trustProxy, env }).catch(
    (error: unknown) => {
      rmSync(dataDir, { recursive: true, force: true });
      throw error;
    },
  );
  await tether.listen().catch(async (error: unknown) => {
    await tether.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  return {
    issuer,
    api,
    tether,
    config,
    logs,
    async close() {
      // Tolerates a server a test already closed (to inspect its files), and still removes the folder.
      await tether.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
