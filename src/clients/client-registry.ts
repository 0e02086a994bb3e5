import type { Config } from '../config/schema.js';
import { InvalidClient, InvalidRequest, UnauthorizedClient } from '../oauth/errors.js';
import { constantTimeEqual } from '../shared/crypto.js';
import type { Client, Resource } from './client.js';

/** How a client presented itself at an endpoint (RFC 6749 §2.3). */
export interface ClientCredentials {
  clientId: string | undefined;
  secret?: string;
  method: 'none' | 'client_secret_basic' | 'client_secret_post';
}

/** The clients and resources of the configuration, and client authentication against them. */
export class ClientRegistry {
  private readonly clients = new Map<string, Client>();
  private readonly resources = new Map<string, Resource>();

  constructor(config: Pick<Config, 'clients' | 'resources'>) {
    for (const r of config.resources) {
      this.resources.set(r.uri, { uri: r.uri, name: r.name, scopes: r.scopes, accessTokenTtl: r.access_token_ttl });
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
      });
    }
  }

  find(id: string): Client | undefined {
    return this.clients.get(id);
  }

  resource(uri: string): Resource | undefined {
    return this.resources.get(uri);
  }

  /**
   * Authenticates the client and checks it may use `grantType`.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
   */
  authenticate(credentials: ClientCredentials, grantType: string): Client {
    const usedBasic = credentials.method === 'client_secret_basic';
    if (!credentials.clientId) throw new InvalidRequest('client_id is required.');
    const client = this.clients.get(credentials.clientId);
    if (!client) throw new InvalidClient('Unknown client.', usedBasic);
    if (client.type === 'confidential') {
      if (credentials.method === 'none' || credentials.secret === undefined) {
        throw new InvalidClient('This client must authenticate.', usedBasic);
      }
      if (!client.secret || !constantTimeEqual(credentials.secret, client.secret)) {
        throw new InvalidClient('Client authentication failed.', usedBasic);
      }
    } else if (credentials.method !== 'none') {
      throw new InvalidClient('A public client has no secret to present.', usedBasic);
    }
    if (!client.grants.includes(grantType)) {
      throw new UnauthorizedClient('This client may not use this grant type.');
    }
    return client;
  }
}
