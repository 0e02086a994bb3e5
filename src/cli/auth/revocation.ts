import { ClientError } from './errors.js';
import { formPost } from './oauth-http.js';

/**
 * Revokes a token as a public client (RFC 7009 §2.1: client_id and the token). Tether ends the whole grant for
 * either token, so revoking the refresh token ends the session everywhere.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revocationRequest(
  fetchFn: typeof fetch,
  endpoint: string,
  params: { clientId: string; token: string; hint: 'refresh_token' | 'access_token' },
): Promise<void> {
  const form = new URLSearchParams({ token: params.token, token_type_hint: params.hint, client_id: params.clientId });
  const reply = await formPost(fetchFn, endpoint, form);
  // §2.2: 200 whether or not the token was still valid.
  if (reply.status !== 200) {
    throw new ClientError('oauth_error', `the server refused to revoke: ${String(reply.body['error'])}`, String(reply.body['error']));
  }
}
