import type { FastifyRequest } from 'fastify';
import type { ClientCredentials } from '../clients/client-registry.js';
import { InvalidClient, InvalidRequest } from '../oauth/errors.js';
import type { FormParams } from '../oauth/form-params.js';

/**
 * Reads how the client authenticates: HTTP Basic (client_secret_basic, with RFC 6749 §2.3.1's form-encoding of
 * id and secret), client_secret in the body (client_secret_post), or just client_id (a public client). More
 * than one method at once is invalid_request.
 */
export function clientCredentials(request: FastifyRequest, params: FormParams): ClientCredentials {
  const header = request.headers.authorization;
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (header !== undefined) {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match?.[1]) throw new InvalidClient('Malformed Authorization header.', true);
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidClient('Malformed Basic credentials.', true);
    let clientId: string;
    let secret: string;
    try {
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw new InvalidClient('Malformed Basic credentials.', true);
    }
    if (bodySecret !== undefined) throw new InvalidRequest('Use one client authentication method, not two.');
    if (bodyId !== undefined && bodyId !== clientId) throw new InvalidRequest('client_id does not match the credentials.');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
  return { clientId: bodyId, method: 'none' };
}
