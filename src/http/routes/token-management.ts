import type { FastifyInstance } from 'fastify';
import type { ClientRegistry } from '../../clients/client-registry.js';
import { introspect, type IntrospectionDeps } from '../../introspection/introspect.js';
import { InvalidClient, UnauthorizedClient } from '../../oauth/errors.js';
import { revokeToken, type TokenRevocationDeps } from '../../revocation/token-revocation.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';
import { noStore } from '../oauth-reply.js';

/**
 * RFC 7009 revocation and RFC 7662 introspection: both take a token from an authenticated client.
 */
export function registerTokenManagementRoutes(
  app: FastifyInstance,
  deps: { issuer: string; clients: ClientRegistry; revocation: TokenRevocationDeps; introspection: IntrospectionDeps },
): void {
  const revokeUrl = `${deps.issuer}/revoke`;
  const introspectUrl = `${deps.issuer}/introspect`;

  app.post('/revoke', async (request, reply) => {
    const params = formOf(request.body);
    const client = await deps.clients.authenticate(clientCredentials(request, params), undefined, revokeUrl);
    const token = params.require('token');
    params.get('token_type_hint');
    await revokeToken(deps.revocation, client, token);
    // §2.2: 200 whether or not the token was known, so the endpoint reveals nothing.
    return noStore(reply).code(200).send();
  });

  app.post('/introspect', async (request, reply) => {
    const params = formOf(request.body);
    const credentials = clientCredentials(request, params);
    // Only authenticated resource servers may ask (RFC 7662 §2.1); public clients have nothing to prove.
    if (credentials.method === 'none') throw new InvalidClient('Introspection requires client authentication.');
    const client = await deps.clients.authenticate(credentials, undefined, introspectUrl);
    if (!client.introspection) throw new UnauthorizedClient('This client may not introspect tokens.');
    const token = params.require('token');
    params.get('token_type_hint');
    return noStore(reply).send(await introspect(deps.introspection, client, token));
  });
}
