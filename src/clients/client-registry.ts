import type { JSONWebKeySet } from 'jose';
import type { ReplayGuard } from '../dpop/replay-guard.js';
import { InvalidClient, InvalidRequest, UnauthorizedClient } from '../oauth/errors.js';
import { constantTimeEqual, hashSecret } from '../shared/crypto.js';
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

/** What the registry is built from: the issuer (an assertion's audience) and the registered clients and resources. */
export interface RegisteredClients {
  issuer: string;
  clients: readonly Client[];
  resources: readonly Resource[];
}

/** The registered clients and resources, and client authentication against them. */
export class ClientRegistry {
  private readonly clients = new Map<string, Client>();
  private readonly resources = new Map<string, Resource>();

  constructor(
    registered: RegisteredClients,
    private readonly assertions: { replay: ReplayGuard; clock: Clock },
  ) {
    this.issuer = registered.issuer;
    for (const resource of registered.resources) this.resources.set(resource.uri, resource);
    for (const client of registered.clients) this.clients.set(client.id, client);
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
    if (!credentials.clientId) throw new InvalidRequest('client_id is required.');
    const client = this.clients.get(credentials.clientId);
    if (!client) throw new InvalidClient('Unknown client.');
    if (client.type === 'public') {
      if (credentials.method !== 'none') throw new InvalidClient('A public client has no secret to present.');
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
        throw new InvalidClient('This client must authenticate.');
      }
      const matches = client.secretHash
        ? constantTimeEqual(hashSecret(credentials.secret), client.secretHash)
        : client.secret !== undefined && constantTimeEqual(credentials.secret, client.secret);
      if (!matches) {
        throw new InvalidClient('Client authentication failed.');
      }
    }
    if (grantType !== undefined && !client.grants.includes(grantType)) {
      throw new UnauthorizedClient('This client may not use this grant type.');
    }
    return client;
  }
}
