import type { JSONWebKeySet } from 'jose';
import type { Config } from '../config/schema.js';
import type { ReplayGuard } from '../dpop/replay-guard.js';
import { InvalidClient, InvalidRequest, UnauthorizedClient } from '../oauth/errors.js';
import { constantTimeEqual } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import { verifyClientAssertion } from './client-assertion.js';
import type { Client, Resource } from './client.js';

/** How a client presented itself at an endpoint (RFC 6749 §2.3, RFC 7523 §2.2). */
export interface ClientCredentials {
  clientId: string | undefined;
  secret?: string;
  assertion?: string;
  method: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
}

/** The clients and resources of the configuration, and client authentication against them. */
export class ClientRegistry {
  private readonly clients = new Map<string, Client>();
  private readonly resources = new Map<string, Resource>();

  constructor(
    config: Pick<Config, 'clients' | 'resources' | 'issuer'>,
    private readonly assertions: { replay: ReplayGuard; clock: Clock },
  ) {
    this.issuer = config.issuer;
    for (const r of config.resources) {
      this.resources.set(r.uri, {
        uri: r.uri,
        name: r.name,
        scopes: r.scopes,
        tier: r.tier,
        accessTokenTtl: r.access_token_ttl,
        grantIdleTtl: r.grant_idle_ttl,
        grantMaxTtl: r.grant_max_ttl,
      });
    }
    for (const c of config.clients) {
      this.clients.set(c.id, {
        id: c.id,
        name: c.name,
        type: c.type,
        secret: c.secret,
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
      });
    }
  }

  private readonly issuer: string;

  find(id: string): Client | undefined {
    return this.clients.get(id);
  }

  resource(uri: string): Resource | undefined {
    return this.resources.get(uri);
  }

  all(): Client[] {
    return [...this.clients.values()];
  }

  /**
   * Authenticates the client by its registered method (a confidential client may use either secret method) and,
   * when `grantType` is given, checks it may use that grant.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
   */
  async authenticate(credentials: ClientCredentials, grantType: string | undefined, endpoint: string): Promise<Client> {
    const usedBasic = credentials.method === 'client_secret_basic';
    if (!credentials.clientId) throw new InvalidRequest('client_id is required.');
    const client = this.clients.get(credentials.clientId);
    if (!client) throw new InvalidClient('Unknown client.', usedBasic);
    if (client.type === 'public') {
      if (credentials.method !== 'none') throw new InvalidClient('A public client has no secret to present.', usedBasic);
    } else if (credentials.method === 'private_key_jwt') {
      if (client.authMethod !== 'private_key_jwt' || !client.jwks || !credentials.assertion) {
        throw new InvalidClient('This client does not authenticate with private_key_jwt.');
      }
      await verifyClientAssertion(credentials.assertion, {
        clientId: client.id,
        jwks: client.jwks as unknown as JSONWebKeySet,
        audiences: [this.issuer, endpoint],
        now: this.assertions.clock.now(),
        replay: this.assertions.replay,
      });
    } else {
      const secretMethod = credentials.method === 'client_secret_basic' || credentials.method === 'client_secret_post';
      if (!secretMethod || credentials.secret === undefined || client.authMethod === 'private_key_jwt') {
        throw new InvalidClient('This client must authenticate.', usedBasic);
      }
      if (!client.secret || !constantTimeEqual(credentials.secret, client.secret)) {
        throw new InvalidClient('Client authentication failed.', usedBasic);
      }
    }
    if (grantType !== undefined && !client.grants.includes(grantType)) {
      throw new UnauthorizedClient('This client may not use this grant type.');
    }
    return client;
  }
}
