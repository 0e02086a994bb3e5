import type { ClientKey } from './dpop-key.js';
import { ClientError } from './errors.js';

/** A parsed answer from an OAuth endpoint. */
export interface OAuthReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * The latest DPoP-Nonce each server handed out, by origin. Servers that demand nonces send one on every answer
 * (RFC 9449 §8.2), so keeping the last one spares most retries.
 */
export class NonceCache {
  private readonly nonces = new Map<string, string>();

  get(url: string): string | undefined {
    return this.nonces.get(new URL(url).origin);
  }

  remember(url: string, headers: Headers): void {
    const nonce = headers.get('dpop-nonce');
    if (nonce) this.nonces.set(new URL(url).origin, nonce);
  }
}

export interface DpopPostContext {
  fetch: typeof fetch;
  key: ClientKey;
  nonces: NonceCache;
}

/**
 * POSTs a form to an authorization server endpoint with a DPoP proof by `key`. When the server answers
 * `use_dpop_nonce`, the request is sent once more with the nonce it gave.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
export async function dpopFormPost(ctx: DpopPostContext, url: string, form: URLSearchParams): Promise<OAuthReply> {
  const first = await send(ctx, url, form);
  if (first.body['error'] !== 'use_dpop_nonce' || !first.headers.get('dpop-nonce')) return first;
  return send(ctx, url, form);
}

async function send(ctx: DpopPostContext, url: string, form: URLSearchParams): Promise<OAuthReply> {
  const nonce = ctx.nonces.get(url);
  const proof = await ctx.key.proof({ htm: 'POST', htu: url, ...(nonce ? { nonce } : {}) });
  const reply = await formPost(ctx.fetch, url, form, { dpop: proof });
  ctx.nonces.remember(url, reply.headers);
  return reply;
}

/** GETs a Tether endpoint with a DPoP proof by `key` (and no token): how a device asks about its own key. */
export async function dpopGet(ctx: DpopPostContext, url: string): Promise<OAuthReply> {
  const once = async () => {
    const nonce = ctx.nonces.get(url);
    const proof = await ctx.key.proof({ htm: 'GET', htu: url, ...(nonce ? { nonce } : {}) });
    let response: Response;
    try {
      response = await ctx.fetch(url, { headers: { accept: 'application/json', dpop: proof }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw new ClientError('network', `cannot reach ${new URL(url).origin} (${describeFetchError(error)})`);
    }
    ctx.nonces.remember(url, response.headers);
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') throw new ClientError('network', `${new URL(url).origin} answered ${url} with something that is not JSON (HTTP ${response.status})`);
    return { status: response.status, headers: response.headers, body };
  };
  const first = await once();
  if (first.body['error'] !== 'use_dpop_nonce' || !first.headers.get('dpop-nonce')) return first;
  return once();
}

/** POSTs a form and parses the JSON answer; transport failures and non-JSON answers become `network` errors. */
export async function formPost(
  fetchFn: typeof fetch,
  url: string,
  form: URLSearchParams,
  headers: Record<string, string> = {},
): Promise<OAuthReply> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: form.toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new ClientError('network', `cannot reach ${new URL(url).origin} (${describeFetchError(error)})`);
  }
  const text = await response.text().catch(() => '');
  let body: Record<string, unknown> = {};
  if (text.length > 0) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      if (response.ok) throw new ClientError('network', `${new URL(url).origin} answered ${url} with something that is not JSON`);
    }
  }
  if (!response.ok && typeof body['error'] !== 'string') {
    throw new ClientError('network', `${new URL(url).origin} answered HTTP ${response.status} without an OAuth error`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** The OAuth error of a reply as a ClientError, with the server's description when it gave a printable one. */
export function oauthErrorOf(reply: OAuthReply, what: string): ClientError {
  const error = String(reply.body['error']);
  const description = typeof reply.body['error_description'] === 'string' ? `: ${reply.body['error_description']}` : '';
  return new ClientError('oauth_error', `${what} failed: ${error}${description}`, error);
}

/** A short reason for a failed fetch: undici hides the useful part in `cause`. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  return cause?.message ?? (error as Error).message ?? 'network error';
}
