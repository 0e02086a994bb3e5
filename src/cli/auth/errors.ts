/**
 * What can go wrong on the client side, one stable `code` each, so commands map them to exit codes and tests
 * assert on the code rather than on wording. Messages never contain a token, a device code or a key.
 */
export type ClientErrorCode =
  /** The server could not be reached, or answered with something that is not OAuth. */
  | 'network'
  /** The server answered an OAuth error we have no special handling for (error in `oauthError`). */
  | 'oauth_error'
  /** The person pressed Deny. */
  | 'access_denied'
  /** The device code expired before approval. */
  | 'expired_token'
  /** The grant ended (expired, idle too long) or the secrets were forgotten. */
  | 'session_ended'
  /** The server revoked the grant (an admin, a sign-out elsewhere, a reused refresh token). */
  | 'session_revoked'
  /** No session matches. */
  | 'not_signed_in'
  /** The server's answer broke the protocol (e.g. an unbound token when we asked for DPoP). */
  | 'invalid_response'
  /** Stopped by the person (Ctrl-C). */
  | 'interrupted';

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly oauthError?: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export function isClientError(error: unknown, code?: ClientErrorCode): error is ClientError {
  return error instanceof ClientError && (code === undefined || error.code === code);
}
