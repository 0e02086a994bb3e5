import { z } from 'zod';
import { parseRange } from '../policy/ip-range.js';
import { DEVICE_CODE_GRANT, MAX_DEVICE_CODE_TTL, SUPPORTED_GRANTS } from '../oauth/grant-types.js';
import { bruteForceSchema } from './brute-force-schema.js';
import { absoluteUri, duration, scopeToken } from './field-types.js';
import { storageSchema } from './storage-schema.js';
import { upstreamProviderSchema } from './upstream-provider-schema.js';

// The protocol's own nouns live in src/oauth; re-exported so configuration code can name them from one place.
export {
  DEVICE_CODE_GRANT,
  JWT_BEARER_GRANT,
  MAX_DEVICE_CODE_TTL,
  REFRESH_TOKEN_GRANT,
  SUPPORTED_GRANTS,
  TOKEN_EXCHANGE_GRANT,
} from '../oauth/grant-types.js';


const resourceSchema = z
  .object({
    uri: absoluteUri.describe('The audience URI a token for this API carries in `aud` (RFC 8707).'),
    name: z.string().min(1).describe('What a person sees on the review screen.'),
    scopes: z.array(scopeToken).default([]).describe('Scopes this API understands; empty means any configured scope.'),
    tier: z
      .enum(['low', 'medium', 'high'])
      .default('low')
      .describe('How sensitive the API is; policies read it as `resource.tier` (the default pack guards "high").'),
    access_token_ttl: duration('upper bound on access token lifetime for this API').optional(),
    grant_idle_ttl: duration('upper bound on how long a grant for this API may sit unused').optional(),
    grant_max_ttl: duration('upper bound on how long a grant for this API may live').optional(),
  })
  .strict();

const clientSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .regex(/^[\x21-\x7E]+$/, 'client ids are printable ASCII without spaces')
      .describe('The `client_id` the client sends (RFC 6749 §2.2).'),
    name: z.string().min(1).describe('What a person sees on the review screen.'),
    type: z
      .enum(['public', 'confidential'])
      .default('public')
      .describe('public: cannot keep a secret (a CLI); confidential: authenticates with `secret`, `secret_hash` or `jwks`.'),
    secret: z
      .string()
      .min(32, 'a client secret needs at least 32 characters')
      .optional()
      .describe('A confidential client\'s secret, 32+ characters; prefer `secret_hash` so the file holds no secret.'),
    secret_hash: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, 'the SHA-256 of the secret, base64url (43 characters)')
      .optional()
      .describe('SHA-256 (base64url) of the client secret, instead of `secret`, so the configuration holds no secret'),
    grants: z
      .array(z.enum(SUPPORTED_GRANTS))
      .min(1)
      .default([DEVICE_CODE_GRANT])
      .describe('Grant types the client may use at /token; list `refresh_token` where refreshing is intended.'),
    scopes: z.array(scopeToken).default([]).describe('Scopes the client may ask for (each one of the top-level `scopes`).'),
    resources: z.array(absoluteUri).default([]).describe('APIs (resource URIs) the client may get tokens for (RFC 8707).'),
    default_resource: absoluteUri.optional().describe('The API a request that names none gets; one of `resources`.'),
    device_code_ttl: duration('device code lifetime for this client, at most 15 minutes').optional(),
    polling_interval: z.number().int().min(1).max(60).optional().describe('Seconds between polls for this client (RFC 8628 §3.2 `interval`).'),
    access_token_ttl: duration('upper bound on access token lifetime for this client').optional(),
    grant_idle_ttl: duration('upper bound on how long a grant of this client may sit unused').optional(),
    grant_max_ttl: duration('upper bound on how long a grant of this client may live').optional(),
    allow_bearer: z
      .boolean()
      .default(false)
      .describe('let this client get plain Bearer tokens when it sends no DPoP proof (a risk, logged at start)'),
    require_dpop_binding: z
      .boolean()
      .default(false)
      .describe('refuse device authorization requests that carry no DPoP proof'),
    token_endpoint_auth_method: z
      .enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .optional()
      .describe('how a confidential client authenticates; defaults to client_secret_basic (or private_key_jwt with jwks)'),
    jwks: z
      .object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).describe('Public JWKs (RFC 7517).') })
      .optional()
      .describe('public keys for private_key_jwt client authentication'),
    introspection: z.boolean().default(false).describe('a resource server that may call the introspection endpoint'),
  })
  .strict()
  .superRefine((client, ctx) => {
    if (client.secret && client.secret_hash) {
      ctx.addIssue({ code: 'custom', path: ['secret_hash'], message: 'give secret or secret_hash, not both' });
    }
    if (client.type === 'confidential' && !client.secret && !client.secret_hash && !client.jwks) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a confidential client needs a secret or jwks' });
    }
    if (client.type === 'public' && (client.secret || client.secret_hash || client.jwks)) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a public client must not have a secret or jwks' });
    }
    if (client.type === 'public' && client.introspection) {
      ctx.addIssue({ code: 'custom', path: ['introspection'], message: 'only a confidential client may introspect' });
    }
    if (client.token_endpoint_auth_method === 'private_key_jwt' && !client.jwks) {
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'private_key_jwt needs jwks' });
    }
    if (client.device_code_ttl !== undefined && client.device_code_ttl > MAX_DEVICE_CODE_TTL) {
      ctx.addIssue({ code: 'custom', path: ['device_code_ttl'], message: 'at most 15 minutes' });
    }
    if (client.default_resource && !client.resources.includes(client.default_resource)) {
      ctx.addIssue({ code: 'custom', path: ['default_resource'], message: 'must be one of the client\'s resources' });
    }
  });

const NETWORK_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const BUILT_IN_NETWORKS = ['loopback', 'private', 'public'];
const addressRange = z.string().refine((r) => parseRange(r) !== undefined, 'expected an address or CIDR range such as 10.8.0.0/16');

const timeZone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone such as "Europe/Berlin"');

const policySchema = z
  .object({
    path: z
      .string()
      .min(1)
      .optional()
      .describe('A .cedar file or a directory of them, watched and reloaded on change; absent: the default pack.'),
    networks: z
      .record(z.string(), z.array(addressRange).min(1))
      .default({})
      .describe('Named address ranges policies read as `context.network` (e.g. office: [203.0.113.0/24]).'),
    time_zone: timeZone.default('UTC').describe('The IANA time zone of `context.hour` and `context.weekday`.'),
  })
  .strict()
  .superRefine((policy, ctx) => {
    for (const name of Object.keys(policy.networks)) {
      if (!NETWORK_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: ['networks', name], message: 'a network name is a letter, then letters, digits, _ or -' });
      } else if (BUILT_IN_NETWORKS.includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['networks', name], message: 'loopback, private and public are built-in names' });
      }
    }
  });

const federationIssuerSchema = z
  .object({
    issuer: absoluteUri.describe('The `iss` its tokens carry, exactly (e.g. https://token.actions.githubusercontent.com).'),
    jwks_uri: absoluteUri
      .optional()
      .describe('Where its signing keys are; absent: read from {issuer}/.well-known/openid-configuration.'),
    audience: z.string().min(1).describe('The `aud` its tokens must carry for Tether (configured on the CI side).'),
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .min(1)
      .default(['RS256', 'ES256'])
      .describe('Signature algorithms accepted from this issuer.'),
    max_token_age: duration('refuse its tokens issued longer ago than this, whatever their exp').default(900),
  })
  .strict();

const workloadsSchema = z
  .object({
    max_ttl: duration('the longest a workload may live before its owner must renew it').default(90 * 86400),
    access_token_ttl: duration('lifetime of a workload access token (at most tokens.access_token_ttl)').default(300),
    stale_after: duration('a workload unused this long is flagged stale in listings').default(30 * 86400),
  })
  .strict();

const userSchema = z
  .object({
    username: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits and . _ @ - only')
      .describe('The sign-in name; compared case-insensitively, and its lower case is the user id (`sub`).'),
    name: z.string().min(1).optional().describe('The display name on the review screen.'),
    password_hash: z
      .string()
      .startsWith('$argon2id$', 'must be an argon2id hash (tether hash-password)')
      .describe('argon2id hash from `tether hash-password`; never the password.'),
    groups: z.array(z.string()).default([]).describe('Groups policy reads (`principal.groups`) and tokens carry (`groups`).'),
  })
  .strict();

export const configSchema = z
  .object({
    issuer: absoluteUri
      .refine((u) => !u.endsWith('/') && !u.includes('?') && !u.includes('#'), 'no trailing slash, query or fragment')
      .describe('The issuer identifier (RFC 8414 §2); also the public base URL.'),
    listen: z
      .object({
        host: z.string().default('127.0.0.1').describe('The address to listen on.'),
        port: z.number().int().min(0).max(65535).default(8080).describe('The port to listen on (0 picks a free one).'),
        trusted_proxies: z
          .array(addressRange)
          .default([])
          .describe(
            'Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed; the client address is the first ' +
              'untrusted hop from the right. `tether serve --trust-proxy` adds loopback (127.0.0.0/8, ::1).',
          ),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, trusted_proxies: [] })
      .describe('Where the server listens, and which proxies in front of it are believed.'),
    data_dir: z.string().min(1).default('./tether-data').describe('Where the SQLite database (and the dev tenant\'s state) lives; forced to 0700.'),
    storage: storageSchema
      .default({ engine: 'sqlite', synchronous: 'normal', pool_size: 10 })
      .describe('The storage engine: embedded SQLite (default) or PostgreSQL (docs/operating.md).'),
    device_flow: z
      .object({
        code_ttl: duration('default device code lifetime').default(300),
        interval: z.number().int().min(1).max(60).default(5).describe('Seconds between polls; faster polls get slow_down and +5 s (RFC 8628 §3.5).'),
      })
      .strict()
      .default({ code_ttl: 300, interval: 5 })
      .describe('The device authorization grant (RFC 8628).'),
    tokens: z
      .object({
        access_token_ttl: duration('default access token lifetime').default(600),
        grant_idle_ttl: duration('a grant unused (not refreshed) this long ends').default(3600),
        grant_max_ttl: duration('a grant ends this long after its approval, however used').default(43200),
      })
      .strict()
      .default({ access_token_ttl: 600, grant_idle_ttl: 3600, grant_max_ttl: 43200 })
      .describe('Lifetimes: clients and resources may only shorten them, policy may shorten them further.'),
    dpop: z
      .object({
        require_nonce: z
          .boolean()
          .default(false)
          .describe('demand a server-issued nonce in every DPoP proof at the token endpoint (RFC 9449 §8)'),
      })
      .strict()
      .default({ require_nonce: false })
      .describe('DPoP (RFC 9449) at the token endpoint.'),
    admin: z
      .object({
        api_key_hashes: z
          .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 hash (tether admin hash-key)'))
          .default([])
          .describe('SHA-256 hashes of the keys that may call the admin API'),
      })
      .strict()
      .default({ api_key_hashes: [] })
      .describe('The admin API (revocation, devices, keys).'),
    keys: z
      .object({
        kek_file: z
          .string()
          .min(1)
          .optional()
          .describe('a file holding the key-encryption key that seals signing keys at rest; TETHER_KEK takes precedence'),
        publish_ahead: duration('how long a rotated-in key is published before it signs (a guard\'s JWKS cache age)').default(600),
      })
      .strict()
      .default({ publish_ahead: 600 })
      .describe('Signing keys: how they are sealed at rest and rotated (docs/configuration.md).'),
    events: z
      .object({
        max_streams_per_client: z
          .number()
          .int()
          .min(1)
          .default(8)
          .describe('open /events streams one resource server may hold; past it a new one gets 429'),
      })
      .strict()
      .default({ max_streams_per_client: 8 })
      .describe('The revocation event stream at /events.'),
    metrics: z
      .object({
        bearer_token_hashes: z
          .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 hash (tether admin hash-key)'))
          .default([])
          .describe('SHA-256 hashes of the bearer tokens a scraper may present at /metrics'),
        allow_loopback: z
          .boolean()
          .default(false)
          .describe('answer /metrics without a token to a peer on 127.0.0.0/8 or ::1 (the dev tenant turns this on)'),
      })
      .strict()
      .default({ bearer_token_hashes: [], allow_loopback: false })
      .describe('Who may read /metrics.'),
    scim: z
      .object({
        bearer_token_hashes: z
          .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 hash (tether admin hash-key)'))
          .default([])
          .describe('SHA-256 hashes of the bearer tokens a SCIM client (Okta, Entra ID) may present at /scim/v2; none: SCIM refuses every call'),
      })
      .strict()
      .default({ bearer_token_hashes: [] })
      .describe('SCIM 2.0 provisioning and offboarding from the company directory (docs/scim.md).'),
    brute_force: bruteForceSchema
      .prefault({})
      .describe('Limits on guessing user codes and passwords, and on requesting device codes (docs/configuration.md).'),
    policy: policySchema
      .default({ networks: {}, time_zone: 'UTC' })
      .describe('Cedar policies deciding each step of the flow (docs/policy.md).'),
    workloads: workloadsSchema
      .default({ max_ttl: 90 * 86400, access_token_ttl: 300, stale_after: 30 * 86400 })
      .describe('Workload identities (docs/workloads.md).'),
    federation: z
      .object({
        issuers: z.array(federationIssuerSchema).default([]).describe('External issuers whose JWTs a federated workload may present.'),
      })
      .strict()
      .default({ issuers: [] })
      .describe('Trusted CI / cluster token issuers for workload federation (RFC 8693).'),
    scopes: z.array(scopeToken).min(1).describe('Every scope the server knows.'),
    resources: z.array(resourceSchema).default([]).describe('The APIs tokens are issued for (RFC 8707 resource indicators).'),
    clients: z.array(clientSchema).min(1).describe('The OAuth clients (RFC 6749 §2).'),
    users: z.array(userSchema).default([]).describe('Local accounts (optional when another directory signs people in).'),
    upstream_providers: z
      .array(upstreamProviderSchema)
      .default([])
      .describe('OpenID Connect providers people sign in through on the verification page (docs/sign-in.md).'),
  })
  .strict()
  .superRefine((config, ctx) => {
    const resourceUris = new Set(config.resources.map((r) => r.uri));
    const scopes = new Set(config.scopes);
    config.clients.forEach((client, i) => {
      client.resources.forEach((uri, j) => {
        if (!resourceUris.has(uri)) {
          ctx.addIssue({ code: 'custom', path: ['clients', i, 'resources', j], message: `unknown resource ${uri}` });
        }
      });
      client.scopes.forEach((scope, j) => {
        if (!scopes.has(scope)) {
          ctx.addIssue({ code: 'custom', path: ['clients', i, 'scopes', j], message: `unknown scope ${scope}` });
        }
      });
    });
    config.resources.forEach((resource, i) =>
      resource.scopes.forEach((scope, j) => {
        if (!scopes.has(scope)) {
          ctx.addIssue({ code: 'custom', path: ['resources', i, 'scopes', j], message: `unknown scope ${scope}` });
        }
      }),
    );
    const duplicate = (values: string[]) => values.find((v, i) => values.indexOf(v) !== i);
    const dupClient = duplicate(config.clients.map((c) => c.id));
    if (dupClient) ctx.addIssue({ code: 'custom', path: ['clients'], message: `duplicate client id ${dupClient}` });
    const dupIssuer = duplicate(config.federation.issuers.map((i) => i.issuer));
    if (dupIssuer) ctx.addIssue({ code: 'custom', path: ['federation', 'issuers'], message: `duplicate issuer ${dupIssuer}` });
    const dupUser = duplicate(config.users.map((u) => u.username));
    if (dupUser) ctx.addIssue({ code: 'custom', path: ['users'], message: `duplicate username ${dupUser}` });
    const dupProvider = duplicate(config.upstream_providers.map((p) => p.name));
    if (dupProvider) ctx.addIssue({ code: 'custom', path: ['upstream_providers'], message: `duplicate provider name ${dupProvider}` });
  });

export type Config = z.output<typeof configSchema>;
export type ClientConfig = Config['clients'][number];
export type ResourceConfig = Config['resources'][number];
export type UserConfig = Config['users'][number];
export type FederationIssuerConfig = Config['federation']['issuers'][number];
export type UpstreamProviderConfig = Config['upstream_providers'][number];
