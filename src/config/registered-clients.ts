import type { Client, Resource } from '../clients/client.js';
import type { RegisteredClients } from '../clients/client-registry.js';
import type { Config } from './schema.js';

/**
 * The configuration's clients and resources as the domain's nouns: snake_case YAML becomes `Client` and `Resource`
 * here, so `clients/` never reads the configuration's shape.
 */
export function registeredClients(config: Pick<Config, 'clients' | 'resources' | 'issuer'>): RegisteredClients {
  const resources = config.resources.map(
    (r): Resource => ({
      uri: r.uri,
      name: r.name,
      scopes: r.scopes,
      tier: r.tier,
      accessTokenTtl: r.access_token_ttl,
      grantIdleTtl: r.grant_idle_ttl,
      grantMaxTtl: r.grant_max_ttl,
    }),
  );
  const clients = config.clients.map(
    (c): Client => ({
      id: c.id,
      name: c.name,
      type: c.type,
      secret: c.secret,
      secretHash: c.secret_hash,
      grants: c.grants,
      scopes: c.scopes,
      resources: c.resources,
      defaultResource: c.default_resource ?? (c.resources.length === 1 ? c.resources[0] : undefined),
      deviceCodeTtl: c.device_code_ttl,
      pollingInterval: c.polling_interval,
      accessTokenTtl: c.access_token_ttl,
      grantIdleTtl: c.grant_idle_ttl,
      grantMaxTtl: c.grant_max_ttl,
      allowBearer: c.allow_bearer,
      requireDpopBinding: c.require_dpop_binding,
      authMethod:
        c.type === 'public' ? 'none' : (c.token_endpoint_auth_method ?? (c.jwks ? 'private_key_jwt' : 'client_secret_basic')),
      jwks: c.jwks,
      introspection: c.introspection,
    }),
  );
  return { issuer: config.issuer, clients, resources };
}
