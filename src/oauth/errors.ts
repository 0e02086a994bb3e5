/**
 * One error class per OAuth error code. Each carries the HTTP status and the `error` value the RFCs prescribe;
 * one handler in the HTTP layer renders any of them as the RFC 6749 §5.2 JSON body.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'authorization_pending'
  | 'slow_down'
  | 'access_denied'
  | 'expired_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'server_error';

export abstract class OAuthError extends Error {
  abstract readonly code: OAuthErrorCode;
  readonly status: number = 400;
  /** Extra response headers, e.g. WWW-Authenticate for invalid_client. */
  readonly headers: Readonly<Record<string, string>> = {};

  constructor(readonly description?: string) {
    // These are answers, not faults: a stack trace would never be read, and capturing one is most of the cost of
    // a pending poll's throw. (Statements before super() may run as long as they do not touch `this`.)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(description);
    Error.stackTraceLimit = limit;
    this.name = new.target.name;
  }

  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.description === undefined
      ? { error: this.code }
      : { error: this.code, error_description: this.description };
  }
}

export class InvalidRequest extends OAuthError {
  readonly code = 'invalid_request';
}

/**
 * Always 401 with a challenge: RFC 6749 §5.2 requires one when the client used the Authorization header, and
 * HTTP (RFC 9110 §15.5.2) requires one on every 401.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class InvalidClient extends OAuthError {
  readonly code = 'invalid_client';
  override readonly status = 401;
  override readonly headers: Readonly<Record<string, string>> = { 'www-authenticate': 'Basic realm="tether"' };
}

export class InvalidGrant extends OAuthError {
  readonly code = 'invalid_grant';
}

export class UnauthorizedClient extends OAuthError {
  readonly code = 'unauthorized_client';
}

export class UnsupportedGrantType extends OAuthError {
  readonly code = 'unsupported_grant_type';
}

export class InvalidScope extends OAuthError {
  readonly code = 'invalid_scope';
}

/** @see https://www.rfc-editor.org/rfc/rfc8707#section-2 */
export class InvalidTarget extends OAuthError {
  readonly code = 'invalid_target';
}

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 */
export class AuthorizationPending extends OAuthError {
  readonly code = 'authorization_pending';
}

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 */
export class SlowDown extends OAuthError {
  readonly code = 'slow_down';
}

export class AccessDenied extends OAuthError {
  readonly code = 'access_denied';
}

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.5 */
export class ExpiredToken extends OAuthError {
  readonly code = 'expired_token';
}

/** @see https://www.rfc-editor.org/rfc/rfc9449#section-5 */
export class InvalidDpopProof extends OAuthError {
  readonly code = 'invalid_dpop_proof';
}

/** Anything unexpected. The description is fixed so nothing internal leaks. */
export class ServerError extends OAuthError {
  readonly code = 'server_error';
  override readonly status = 500;
  constructor() {
    super('The server could not complete the request.');
  }
}

/** The proof lacked the server's current nonce; the response carries a fresh one (RFC 9449 §8). */
export class UseDpopNonce extends OAuthError {
  readonly code = 'use_dpop_nonce';
  override readonly headers: Readonly<Record<string, string>>;
  constructor(nonce: string) {
    super('Resend the request with the DPoP-Nonce value in the proof.');
    this.headers = { 'dpop-nonce': nonce };
  }
}
