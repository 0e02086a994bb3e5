import { z } from 'zod';
import { parseRange } from '../policy/ip-range.js';
import { parseDuration } from './duration.js';

/** The only grant this issue's server issues; later grants are added to the list in one place. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
export const SUPPORTED_GRANTS = [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT] as const;

/** RFC 8628 §3.2 leaves the lifetime to us; the product caps it at 15 minutes whatever a client asks. */
export const MAX_DEVICE_CODE_TTL = 15 * 60;

const duration = (description: string) =>
  z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const seconds = parseDuration(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as "90s", "5m" or "12h" (${description})` });
        return z.NEVER;
      }
      return seconds;
    })
    .describe(description);

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is printable ASCII without spaces or quotes');
const absoluteUri = z.string().url('expected an absolute URI');

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
    id: z.string().min(1).regex(/^[\x21-\x7E]+$/, 'client ids are printable ASCII without spaces'),
    name: z.string().min(1).describe('What a person sees on the review screen.'),
    type: z.enum(['public', 'confidential']).default('public'),
    secret: z.string().min(32, 'a client secret needs at least 32 characters').optional(),
    grants: z.array(z.enum(SUPPORTED_GRANTS)).min(1).default([DEVICE_CODE_GRANT]),
    scopes: z.array(scopeToken).default([]),
    resources: z.array(absoluteUri).default([]),
    default_resource: absoluteUri.optional(),
    device_code_ttl: duration('device code lifetime for this client, at most 15 minutes').optional(),
    polling_interval: z.number().int().min(1).max(60).optional(),
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
      .object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) })
      .optional()
      .describe('public keys for private_key_jwt client authentication'),
    introspection: z.boolean().default(false).describe('a resource server that may call the introspection endpoint'),
  })
  .strict()
  .superRefine((client, ctx) => {
    if (client.type === 'confidential' && !client.secret && !client.jwks) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a confidential client needs a secret or jwks' });
    }
    if (client.type === 'public' && (client.secret || client.jwks)) {
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

const userSchema = z
  .object({
    username: z.string().min(1).max(64).regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits and . _ @ - only'),
    name: z.string().min(1).optional(),
    password_hash: z.string().startsWith('$argon2id$', 'must be an argon2id hash (tether hash-password)'),
    groups: z.array(z.string()).default([]),
  })
  .strict();

export const configSchema = z
  .object({
    issuer: absoluteUri
      .refine((u) => !u.endsWith('/') && !u.includes('?') && !u.includes('#'), 'no trailing slash, query or fragment')
      .describe('The issuer identifier (RFC 8414 §2); also the public base URL.'),
    listen: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8080) })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    data_dir: z.string().min(1).default('./tether-data'),
    storage: z
      .object({
        synchronous: z
          .enum(['normal', 'full'])
          .default('normal')
          .describe('normal: durable across a process crash; full: also across power loss, slower'),
      })
      .strict()
      .default({ synchronous: 'normal' }),
    device_flow: z
      .object({
        code_ttl: duration('default device code lifetime').default(300),
        interval: z.number().int().min(1).max(60).default(5),
      })
      .strict()
      .default({ code_ttl: 300, interval: 5 }),
    tokens: z
      .object({
        access_token_ttl: duration('default access token lifetime').default(600),
        grant_idle_ttl: duration('a grant unused (not refreshed) this long ends').default(3600),
        grant_max_ttl: duration('a grant ends this long after its approval, however used').default(43200),
      })
      .strict()
      .default({ access_token_ttl: 600, grant_idle_ttl: 3600, grant_max_ttl: 43200 }),
    dpop: z
      .object({
        require_nonce: z
          .boolean()
          .default(false)
          .describe('demand a server-issued nonce in every DPoP proof at the token endpoint (RFC 9449 §8)'),
      })
      .strict()
      .default({ require_nonce: false }),
    admin: z
      .object({
        api_key_hashes: z
          .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 hash (tether admin hash-key)'))
          .default([])
          .describe('SHA-256 hashes of the keys that may call the admin API'),
      })
      .strict()
      .default({ api_key_hashes: [] }),
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
      .default({ max_streams_per_client: 8 }),
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
      .default({ bearer_token_hashes: [], allow_loopback: false }),
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
    brute_force: z
      .object({
        per_ip_failures: z.number().int().min(1).default(10),
        per_session_failures: z.number().int().min(1).default(5),
        window: duration('window the per-IP and per-session limits count over').default(900),
        max_guess_probability: z
          .number()
          .gt(0)
          .lt(1)
          .default(2 ** -32)
          .describe('bound on an attacker\'s chance to guess any live user code within one code lifetime'),
      })
      .strict()
      .default({ per_ip_failures: 10, per_session_failures: 5, window: 900, max_guess_probability: 2 ** -32 }),
    policy: policySchema
      .default({ networks: {}, time_zone: 'UTC' })
      .describe('Cedar policies deciding each step of the flow (docs/policy.md).'),
    scopes: z.array(scopeToken).min(1),
    resources: z.array(resourceSchema).default([]),
    clients: z.array(clientSchema).min(1),
    users: z.array(userSchema).default([]),
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
    const dupUser = duplicate(config.users.map((u) => u.username));
    if (dupUser) ctx.addIssue({ code: 'custom', path: ['users'], message: `duplicate username ${dupUser}` });
  });

export type Config = z.output<typeof configSchema>;
export type ClientConfig = Config['clients'][number];
export type ResourceConfig = Config['resources'][number];
export type UserConfig = Config['users'][number];
