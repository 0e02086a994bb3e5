// The comparison server: npm oidc-provider v9 configured for the device flow with DPoP, everything in memory.
// Usage: node bench/oidc-provider-server.mjs PORT CLIENT_ID RESOURCE RS_ID RS_SECRET   (prints "ready" once listening)
//
// Configured to do the same work per request as Tether, so that ratios compare like with like: access tokens are
// ES256 JWTs for the resource (Tether's are; oidc-provider's default opaque tokens would skip a signature), a
// refresh token with every issuance and rotation on every use (Tether rotates always; oidc-provider by default
// does not rotate a sender-constrained one), no ID token (Tether issues none).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
// oidc-provider's own in-memory adapter class. Its default *store* is an LRU capped at 1,000 entries (each device
// code takes two: the code and its user-code index), so with the default the 20,000 codes the poll benchmark needs
// would be evicted and answered invalid_grant. We keep the adapter's code and give it an unbounded Map store with
// the same expiry semantics: still everything in memory, and no cheaper or dearer per operation than the LRU.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const [port, clientId, resource, rsId, rsSecret] = [Number(process.argv[2]), ...process.argv.slice(3)];
const issuer = `http://127.0.0.1:${port}`;
const ACCOUNT = 'alice';

class UnboundedStore {
  #entries = new Map();

  get(key) {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiry !== undefined && entry.expiry <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  delete(key) {
    return this.#entries.delete(key);
  }
}

const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const store = new UnboundedStore();
const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store, 0),
  jwks: { keys: [{ ...signingKey, kid: 'bench', alg: 'ES256', use: 'sig' }] },
  clients: [
    {
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    // The resource server that introspects, as at Tether.
    { client_id: rsId, client_secret: rsSecret, token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256', grant_types: [], response_types: [], redirect_uris: [] },
  ],
  scopes: ['read'],
  cookies: { keys: ['bench-only-cookie-key-not-a-secret'] },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  features: {
    deviceFlow: { enabled: true },
    dPoP: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'read', audience: resource, accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } }),
    },
  },
});

// Errors still reach stderr (the bench shows it if the server dies); routine events are not logged at all.
provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));

// Bench-only: approves device codes by user code as a completed interaction would (account, grant with the
// resource's scope), so redemption and refresh can be measured without driving a login UI. Not on a timed path.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/approve' || ctx.method !== 'POST') return next();
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  const now = Math.floor(Date.now() / 1000);
  for (const userCode of JSON.parse(raw)) {
    const code = await provider.DeviceCode.findByUserCode(userCode.replace(/-/g, ''));
    if (!code) throw new Error(`no device code for ${userCode}`);
    const grant = new provider.Grant({ accountId: ACCOUNT, clientId });
    grant.addResourceScope(resource, 'read');
    code.grantId = await grant.save();
    code.accountId = ACCOUNT;
    code.authTime = now;
    code.resource = resource;
    code.scope = 'read';
    await code.save();
  }
  ctx.body = { ok: true };
});

const server = provider.listen(port, '127.0.0.1');
server.on('listening', () => process.stdout.write('ready\n'));
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
