import type { GuardLogger } from './logger.js';

/** Where a guard finds the issuer's keys and events. */
export interface IssuerEndpoints {
  jwksUri: string;
  eventsUrl: string;
}

/**
 * Reads the issuer's RFC 8414 metadata for its `jwks_uri`, checking that the metadata names the same issuer
 * (RFC 8414 §3.3, so a redirect or a wrong URL cannot substitute another server's keys). Falls back to Tether's
 * paths (`/jwks`, `/events`) when the metadata cannot be read, so a guard can start while the server is down and
 * fail closed until it is up.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discoverIssuer(issuer: string, logger: GuardLogger, fetchImpl: typeof fetch = fetch): Promise<IssuerEndpoints> {
  const base = issuer.replace(/\/+$/, '');
  const fallback = { jwksUri: `${base}/jwks`, eventsUrl: `${base}/events` };
  const url = new URL(issuer);
  const metadataUrl = `${url.origin}/.well-known/oauth-authorization-server${url.pathname === '/' ? '' : url.pathname}`;
  try {
    const response = await fetchImpl(metadataUrl, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const metadata = (await response.json()) as Record<string, unknown>;
    if (metadata['issuer'] !== issuer) throw new Error(`the metadata names issuer ${String(metadata['issuer'])}`);
    const jwksUri = metadata['jwks_uri'];
    if (typeof jwksUri !== 'string') throw new Error('the metadata has no jwks_uri');
    // Tether does not advertise the stream in metadata yet; its path is fixed.
    const events = metadata['tether_events_endpoint'];
    return { jwksUri, eventsUrl: typeof events === 'string' ? events : fallback.eventsUrl };
  } catch (error) {
    logger.warn({ issuer, err: (error as Error).message }, 'guard: could not read the issuer metadata; using the default paths');
    return fallback;
  }
}
