import { accessTokenHash, type ClientKey } from '../auth/dpop-key.js';
import { isClientError, type ClientError } from '../auth/errors.js';
import type { NonceCache } from '../auth/oauth-http.js';
import type { TokenSource } from '../auth/token-source.js';

export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Headers;
  body?: Uint8Array;
}

/**
 * Sends one request to the resource with `Authorization: DPoP <token>` and a fresh proof (htm, htu, ath). When
 * the API asks for a nonce (RFC 9449 §9) it is sent once more with it; when the API calls the token invalid, the
 * token is refreshed and the request sent once more. Redirects are returned, not followed, so a token never
 * follows a request elsewhere.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export class AuthorizedSender {
  constructor(
    private readonly options: {
      fetch: typeof fetch;
      /** A session's TokenSource, or a workload's (anything that yields and replaces access tokens). */
      tokens: Pick<TokenSource, 'accessToken' | 'afterRejection'>;
      key: ClientKey;
      nonces: NonceCache;
      /** Told when the session has ended (so the command can say so once). */
      onSessionEnded?: (error: ClientError) => void;
    },
  ) {}

  async send(request: OutgoingRequest): Promise<Response> {
    let token = await this.options.tokens.accessToken();
    let response = await this.attempt(request, token);
    const challenge = errorOf(response);
    if (challenge === 'use_dpop_nonce' && response.headers.get('dpop-nonce')) {
      await response.body?.cancel();
      response = await this.attempt(request, token);
    } else if (challenge === 'invalid_token') {
      let next: string | undefined;
      try {
        next = await this.options.tokens.afterRejection(token);
      } catch (error) {
        // The API's own 401 is the truest answer to pass on; say why it cannot be fixed from here.
        if (isClientError(error, 'session_ended') || isClientError(error, 'session_revoked')) this.options.onSessionEnded?.(error);
      }
      if (next) {
        await response.body?.cancel();
        token = next;
        response = await this.attempt(request, token);
      }
    }
    return response;
  }

  private async attempt(request: OutgoingRequest, token: string): Promise<Response> {
    const nonce = this.options.nonces.get(request.url);
    const proof = await this.options.key.proof({
      htm: request.method,
      htu: request.url,
      ath: accessTokenHash(token),
      ...(nonce ? { nonce } : {}),
    });
    const headers = new Headers(request.headers);
    headers.set('authorization', `DPoP ${token}`);
    headers.set('dpop', proof);
    const response = await this.options.fetch(request.url, {
      method: request.method,
      headers,
      ...(request.body && request.body.length > 0 ? { body: request.body } : {}),
      redirect: 'manual',
    });
    this.options.nonces.remember(request.url, response.headers);
    return response;
  }
}

/** The `error` of a 401's DPoP or Bearer challenge, if any. */
function errorOf(response: Response): string | undefined {
  if (response.status !== 401) return undefined;
  return /error="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
}
