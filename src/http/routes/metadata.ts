import type { FastifyInstance } from 'fastify';
import { JWT_BEARER_GRANT, SUPPORTED_GRANTS, TOKEN_EXCHANGE_GRANT } from '../../config/schema.js';
import { DPOP_ALGORITHMS } from '../../dpop/proof.js';
import { SIGNING_ALG, type KeyRing } from '../../tokens/signing-keys.js';

/**
 * Authorization server metadata (RFC 8414 §2) and the JWKS it points to.
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export function registerMetadataRoutes(app: FastifyInstance, opts: { issuer: string; scopes: string[]; keys: KeyRing }) {
  const { issuer } = opts;
  const metadata = {
    issuer,
    device_authorization_endpoint: `${issuer}/device_authorization`,
    // Ours (RFC 8414 §2 allows more): where a device abandons its own request; docs/cli.md.
    tether_device_abandon_endpoint: `${issuer}/device_authorization/abandon`,
    tether_session_endpoint: `${issuer}/session`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    jwks_uri: `${issuer}/jwks`,
    grant_types_supported: [...SUPPORTED_GRANTS, TOKEN_EXCHANGE_GRANT, JWT_BEARER_GRANT],
    response_types_supported: [],
    scopes_supported: opts.scopes,
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    service_documentation: `${issuer}/device`,
    ui_locales_supported: ['en'],
    code_challenge_methods_supported: [],
    access_token_signing_alg_values_supported: [SIGNING_ALG],
  };
  const body = JSON.stringify(metadata);
  app.get('/.well-known/oauth-authorization-server', (_request, reply) => {
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(body);
  });
  app.get('/jwks', (_request, reply) => {
    reply.type('application/jwk-set+json').header('cache-control', 'public, max-age=300').send(JSON.stringify(opts.keys.jwks()));
  });
}
