import { InvalidScope, InvalidTarget } from '../oauth/errors.js';
import type { Client, Resource } from './client.js';

export interface GrantedAccess {
  scopes: string[];
  resource: Resource;
}

/**
 * Decides which scopes and which API a request gets: only what is configured for the client (and understood by the
 * resource), never more. No scope asked means every scope the client may have for that resource.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function resolveRequestedAccess(
  client: Client,
  scopeParam: string | undefined,
  resourceParams: readonly string[],
  findResource: (uri: string) => Resource | undefined,
): GrantedAccess {
  if (resourceParams.length > 1) throw new InvalidTarget('Ask for one resource per login.');
  const uri = resourceParams[0] ?? client.defaultResource;
  if (uri === undefined) throw new InvalidTarget('This client must name the resource it wants a token for.');
  if (!isAbsoluteUriWithoutFragment(uri)) throw new InvalidTarget('resource must be an absolute URI without a fragment.');
  const resource = findResource(uri);
  if (!resource || !client.resources.includes(uri)) {
    throw new InvalidTarget('This client may not get tokens for that resource.');
  }

  const allowed = client.scopes.filter((s) => resource.scopes.length === 0 || resource.scopes.includes(s));
  if (scopeParam === undefined) {
    if (allowed.length === 0) throw new InvalidScope('No scope is configured for this client and resource.');
    return { scopes: [...allowed], resource };
  }
  const requested = [...new Set(scopeParam.split(' ').filter((s) => s.length > 0))];
  if (requested.length === 0) throw new InvalidScope('scope is empty.');
  const refused = requested.filter((s) => !allowed.includes(s));
  if (refused.length > 0) throw new InvalidScope(`Not allowed for this client and resource: ${refused.join(' ')}.`);
  return { scopes: requested, resource };
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  try {
    const url = new URL(value);
    return url.hash === '' && !value.includes('#');
  } catch {
    return false;
  }
}
