import { storeLabel, type SecretStore } from '../secrets/secret-store.js';
import type { ClientKey } from './dpop-key.js';
import { ClientError } from './errors.js';
import { dpopFormPost, oauthErrorOf, type NonceCache } from './oauth-http.js';
import type { RefreshLock } from './refresh-lock.js';
import { processTokenResponse, type SessionTokens } from './token-response.js';

/** Refresh this long before expiry, so a token never expires between our check and the API's. */
export const REFRESH_MARGIN_SECONDS = 30;

export interface TokenSourceOptions {
  account: string;
  clientId: string;
  tokenEndpoint: string;
  store: SecretStore;
  key: ClientKey;
  lock: RefreshLock;
  fetch: typeof fetch;
  nonces: NonceCache;
  /** Seconds since the epoch. */
  now: () => number;
  /** Told after each successful refresh (to update the non-secret expiry in the config file). */
  onRefreshed?: (tokens: SessionTokens) => void;
}

/**
 * Hands out a valid access token, refreshing with the rotating refresh token when the current one is about to
 * expire. Refreshes are serialized twice over: concurrent callers in this process share one refresh, and other
 * processes wait on the session's lock file and then find the new tokens already stored. The newest refresh token
 * is stored before the new access token is used, because the old one is dead the moment the server answers.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export class TokenSource {
  private cached: SessionTokens | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly options: TokenSourceOptions) {}

  /** A token with at least REFRESH_MARGIN_SECONDS left. */
  async accessToken(): Promise<string> {
    const current = this.cached ?? (await this.read());
    if (this.isFresh(current)) {
      this.cached = current;
      return current.accessToken;
    }
    return this.refresh(current.accessToken);
  }

  /**
   * The API refused `rejected` as invalid: refresh unless someone already has. Returns a different token, or
   * undefined when refreshing cannot help.
   */
  async afterRejection(rejected: string): Promise<string | undefined> {
    this.cached = undefined;
    const next = await this.refresh(rejected, { force: true });
    return next === rejected ? undefined : next;
  }

  /** The stored tokens as they are now, for status and logout. */
  async peek(): Promise<SessionTokens | undefined> {
    return this.options.store.readTokens(this.options.account);
  }

  private isFresh(tokens: SessionTokens): boolean {
    return tokens.accessTokenExpiresAt - this.options.now() > REFRESH_MARGIN_SECONDS;
  }

  private async read(): Promise<SessionTokens> {
    const tokens = await this.options.store.readTokens(this.options.account);
    if (!tokens) {
      throw new ClientError('session_ended', `${storeLabel(this.options.store)} no longer holds this session's secrets`);
    }
    return tokens;
  }

  private refresh(stale: string, opts: { force?: boolean } = {}): Promise<string> {
    this.inflight ??= this.refreshLocked(stale, opts.force === true).finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async refreshLocked(stale: string, force: boolean): Promise<string> {
    const release = await this.options.lock.acquire(this.options.account);
    try {
      // Whoever held the lock before us may have refreshed already: then their tokens are ours.
      const stored = await this.read();
      if (stored.accessToken !== stale && (force || this.isFresh(stored))) {
        this.cached = stored;
        return stored.accessToken;
      }
      if (!stored.refreshToken) throw new ClientError('session_ended', 'the access token expired and this session has no refresh token');
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: stored.refreshToken,
        client_id: this.options.clientId,
      });
      const reply = await dpopFormPost(
        { fetch: this.options.fetch, key: this.options.key, nonces: this.options.nonces },
        this.options.tokenEndpoint,
        form,
      );
      if (reply.status !== 200) {
        if (reply.body['error'] === 'invalid_grant') throw sessionEndedError(reply.body['error_description']);
        throw oauthErrorOf(reply, 'Refreshing the access token');
      }
      const issued = processTokenResponse(reply.body, this.options.now());
      // Rotation gives a new one each time; keep the old only if the server chose not to rotate.
      const refreshToken = issued.refreshToken ?? stored.refreshToken;
      const next: SessionTokens = {
        accessToken: issued.accessToken,
        accessTokenExpiresAt: issued.accessTokenExpiresAt,
        ...(refreshToken ? { refreshToken } : {}),
      };
      await this.options.store.writeTokens(this.options.account, next);
      this.cached = next;
      this.options.onRefreshed?.(next);
      return next.accessToken;
    } finally {
      release();
    }
  }
}

/**
 * Why the server refused to refresh, as the person needs to know it: revoked (by an admin, a sign-out elsewhere,
 * a reused refresh token) or ended (expired, idle too long). RFC 6749 has only `invalid_grant` for both; Tether's
 * `error_description` names a revocation with the word "revoked" (src/grant-types/refresh-token-grant.ts).
 */
export function sessionEndedError(description: unknown): ClientError {
  if (typeof description === 'string' && /\brevoked\b/i.test(description)) return sessionRevoked();
  // A policy refusal (the device's trust was taken away, a sign-in too old...) says why; pass that on.
  if (typeof description === 'string' && !/\b(ended|expired|invalid)\b/i.test(description) && /^[\x20-\x7E]{1,300}$/.test(description)) {
    return new ClientError('session_ended', `the server refused to refresh this session: ${description} Run tether login.`, 'invalid_grant');
  }
  return sessionExpired();
}

export function sessionRevoked(): ClientError {
  return new ClientError('session_revoked', 'the server revoked this session (an admin, a sign-out elsewhere, or a reused refresh token); run tether login', 'invalid_grant');
}

export function sessionExpired(): ClientError {
  return new ClientError('session_ended', 'this session expired at the server; run tether login', 'invalid_grant');
}
