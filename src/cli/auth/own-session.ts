import { accessTokenHash, type ClientKey } from './dpop-key.js';
import { isClientError } from './errors.js';
import type { NonceCache } from './oauth-http.js';
import type { TokenSource } from './token-source.js';

/** What the server says of a session, or why it could not be asked. */
export type ServerView =
  | { state: 'active'; grantExpiresAt: number }
  | { state: 'revoked' }
  | { state: 'ended' }
  | { state: 'unreachable'; reason: string }
  /** The server offers no session endpoint (not Tether, or older): only local state is known. */
  | { state: 'unknown' };

export interface OwnSessionContext {
  fetch: typeof fetch;
  key: ClientKey;
  nonces: NonceCache;
  tokens: TokenSource;
  /** The profile's `session_endpoint`, from the server's metadata at login. */
  endpoint: string | undefined;
}

/**
 * Asks Tether's `GET /session` (docs/cli.md) whether this session's grant still lives, with the access token and
 * a proof by its key, refreshing first if the token is stale. A refused refresh says revoked or ended itself. An
 * inactive answer is followed by one forced refresh, whose refusal tells revoked from ended. Never waits longer
 * than `timeoutMs` for the server.
 */
export async function askServer(ctx: OwnSessionContext, timeoutMs = 3_000): Promise<ServerView> {
  if (!ctx.endpoint) return { state: 'unknown' };
  const endpoint = ctx.endpoint;
  try {
    const token = await ctx.tokens.accessToken();
    let response = await get(ctx, endpoint, token, timeoutMs);
    if (response.status === 401 && response.headers.get('dpop-nonce')) response = await get(ctx, endpoint, token, timeoutMs);
    if (response.status !== 200) return { state: 'unreachable', reason: `HTTP ${response.status} from ${endpoint}` };
    const body = (await response.json()) as { active?: unknown; expires_at?: unknown };
    if (body.active === true) return { state: 'active', grantExpiresAt: Number(body.expires_at) };
    await ctx.tokens.afterRejection(token);
    return { state: 'ended' };
  } catch (error) {
    if (isClientError(error, 'session_revoked')) return { state: 'revoked' };
    if (isClientError(error, 'session_ended')) return { state: 'ended' };
    if (isClientError(error)) return { state: 'unreachable', reason: error.message };
    const name = (error as Error).name;
    return { state: 'unreachable', reason: name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : `cannot reach ${new URL(endpoint).origin}` };
  }
}

async function get(ctx: OwnSessionContext, endpoint: string, token: string, timeoutMs: number): Promise<Response> {
  const nonce = ctx.nonces.get(endpoint);
  const proof = await ctx.key.proof({ htm: 'GET', htu: endpoint, ath: accessTokenHash(token), ...(nonce ? { nonce } : {}) });
  const response = await ctx.fetch(endpoint, {
    headers: { authorization: `DPoP ${token}`, dpop: proof, accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  ctx.nonces.remember(endpoint, response.headers);
  return response;
}
