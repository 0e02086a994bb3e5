import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';

export interface Exchange {
  method: string;
  url: string;
  dpopJkt?: string;
  status: number;
  body: Record<string, unknown>;
}

/**
 * A fetch that records every call to the authorization server (and can rewrite the metadata), so tests learn
 * what the CLI sent and received, including the secrets they must then not find anywhere.
 */
export function recordingFetch(opts: { metadataExtra?: Record<string, unknown> } = {}) {
  const exchanges: Exchange[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    const proof = headers.get('dpop');
    const dpopJkt = proof ? await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK) : undefined;
    const response = await fetch(input, init);
    const path = new URL(url).pathname;
    if (path === '/.well-known/oauth-authorization-server' && opts.metadataExtra) {
      const body = { ...((await response.json()) as Record<string, unknown>), ...opts.metadataExtra };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    let body: Record<string, unknown> = {};
    const text = await response.clone().text();
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON; keep the status only.
    }
    exchanges.push({ method: init?.method ?? 'GET', url, ...(dpopJkt ? { dpopJkt } : {}), status: response.status, body });
    return response;
  };
  const secrets = () => {
    const found = new Set<string>();
    for (const e of exchanges) {
      for (const field of ['access_token', 'refresh_token', 'device_code']) {
        const value = e.body[field];
        if (typeof value === 'string') found.add(value);
      }
    }
    return [...found];
  };
  return { fetch: fetchFn, exchanges, secrets, paths: (path: string) => exchanges.filter((e) => new URL(e.url).pathname === path) };
}
