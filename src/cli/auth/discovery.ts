import { ClientError } from './errors.js';
import { describeFetchError } from './oauth-http.js';

/** What the client needs to know about an authorization server. */
export interface ServerMetadata {
  issuer: string;
  device_authorization_endpoint: string;
  token_endpoint: string;
  revocation_endpoint?: string;
  /** Tether's own: where a device abandons its request when its login is cancelled. */
  tether_device_abandon_endpoint?: string;
  /** Tether's own: where the holder of a token asks whether its grant still lives. */
  tether_session_endpoint?: string;
}

/**
 * Fetches and checks RFC 8414 metadata: the issuer must be exactly the one asked for (§3.3), and every endpoint
 * must use https, except on the loopback interface where plain http is how local development works.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discover(fetchFn: typeof fetch, issuer: string): Promise<ServerMetadata> {
  const normalized = normalizeIssuer(issuer);
  const url = `${normalized}/.well-known/oauth-authorization-server`;
  let response: Response;
  try {
    response = await fetchFn(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new ClientError('network', `cannot reach ${normalized} (${describeFetchError(error)})`);
  }
  if (!response.ok) throw new ClientError('network', `${normalized} has no OAuth metadata (HTTP ${response.status} for ${url})`);
  let body: Record<string, unknown>;
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    throw new ClientError('network', `${normalized} sent metadata that is not JSON`);
  }
  if (body['issuer'] !== normalized) {
    throw new ClientError('invalid_response', `the metadata names issuer ${String(body['issuer'])}, not ${normalized}`);
  }
  const endpoint = (name: string, required: boolean): string | undefined => {
    const value = body[name];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string') throw new ClientError('invalid_response', `the server's metadata has no ${name}`);
    assertSafeUrl(value, name);
    return value;
  };
  const revocation = endpoint('revocation_endpoint', false);
  const abandon = endpoint('tether_device_abandon_endpoint', false);
  const session = endpoint('tether_session_endpoint', false);
  return {
    issuer: normalized,
    device_authorization_endpoint: endpoint('device_authorization_endpoint', true) as string,
    token_endpoint: endpoint('token_endpoint', true) as string,
    ...(revocation ? { revocation_endpoint: revocation } : {}),
    ...(abandon ? { tether_device_abandon_endpoint: abandon } : {}),
    ...(session ? { tether_session_endpoint: session } : {}),
  };
}

/** The issuer as RFC 8414 compares it: an https (or loopback http) URL without trailing slash, query or fragment. */
export function normalizeIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ClientError('invalid_response', `${issuer} is not a URL`);
  }
  if (url.search || url.hash) throw new ClientError('invalid_response', 'the issuer URL must not have a query or fragment');
  assertSafeUrl(url.href, 'issuer');
  return url.href.replace(/\/+$/, '');
}

/** Plain http only on loopback: elsewhere a token or device code would cross the network in the clear. */
export function assertSafeUrl(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ClientError('invalid_response', `${what} is not a URL`);
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new ClientError('invalid_response', `${what} must use https (plain http is allowed only on 127.0.0.1, ::1 or localhost)`);
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
