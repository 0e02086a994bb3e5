import type { FastifyRequest } from 'fastify';
import type { ClientCredentials } from '../clients/client-registry.js';
import { JWT_BEARER_ASSERTION } from '../clients/client-assertion.js';
import { InvalidClient, InvalidRequest } from '../oauth/errors.js';
import type { FormParams } from '../oauth/form-params.js';

/**
 * Reads how the client authenticates: HTTP Basic (client_secret_basic, with RFC 6749 §2.3.1's form-encoding of
 * id and secret), client_secret in the body (client_secret_post), a signed assertion (private_key_jwt), or just
 * client_id (a public client). More than one method at once is invalid_request.
 */
export function clientCredentials(request: FastifyRequest, params: FormParams): ClientCredentials {
  const header = request.headers.authorization;
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertionType = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (assertionType !== undefined || assertion !== undefined) {
    if (assertionType !== JWT_BEARER_ASSERTION || !assertion) throw new InvalidClient('Unsupported client assertion.');
    if (header !== undefined || bodySecret !== undefined) throw new InvalidRequest('Use one client authentication method, not two.');
    const clientId = bodyId ?? decodeJwt(assertion).sub;
    return { clientId, assertion, method: 'private_key_jwt' };
  }
  if (header !== undefined) {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!match?.[1]) throw new InvalidClient('Malformed Authorization header.');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidClient('Malformed Basic credentials.');
    let clientId: string;
    let secret: string;
    try {
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw new InvalidClient('Malformed Basic credentials.');
    }
    if (bodySecret !== undefined) throw new InvalidRequest('Use one client authentication method, not two.');
    if (bodyId !== undefined && bodyId !== clientId) throw new InvalidRequest('client_id does not match the credentials.');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
  return { clientId: bodyId, method: 'none' };
}

/** The assertion's subject without verifying it: only to find which client's keys to verify it with. */
function decodeJwt(assertion: string): { sub: string | undefined } {
  try {
    const payload = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    const sub = (payload as { sub?: unknown }).sub;
    return { sub: typeof sub === 'string' ? sub : undefined };
  } catch {
    throw new InvalidClient('The client assertion is malformed.');
  }
}
