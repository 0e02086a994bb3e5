// The comparison server: npm oidc-provider v9 configured for the device flow with DPoP, everything in memory.
// Usage: node bench/oidc-provider-server.mjs PORT CLIENT_ID   (prints "ready" on stdout once listening)
import Provider from 'oidc-provider';
// oidc-provider's own in-memory adapter class. Its default *store* is an LRU capped at 1,000 entries (each device
// code takes two: the code and its user-code index), so with the default the 20,000 codes the poll benchmark needs
// would be evicted and answered invalid_grant. We keep the adapter's code and give it an unbounded Map store with
// the same expiry semantics: still everything in memory, and no cheaper or dearer per operation than the LRU.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const [port, clientId] = [Number(process.argv[2]), process.argv[3]];
const issuer = `http://127.0.0.1:${port}`;

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

const store = new UnboundedStore();
const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store, 0),
  clients: [
    {
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  cookies: { keys: ['bench-only-cookie-key-not-a-secret'] },
  features: {
    deviceFlow: { enabled: true },
    dPoP: { enabled: true },
    devInteractions: { enabled: false },
  },
});

// Errors still reach stderr (the bench shows it if the server dies); routine events are not logged at all.
provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));

const server = provider.listen(port, '127.0.0.1');
server.on('listening', () => process.stdout.write('ready\n'));
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
