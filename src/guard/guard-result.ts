import type { VerifiedIdentity } from './access-token.js';
import type { GuardErrorCode } from './challenge.js';

// What a guard check takes and gives: the request an adapter builds, and the answer it writes. Apart from the
// Guard, so adapters and callers read the contract without the machinery.

/** The parts of an HTTP request the guard needs; every adapter supplies them. */
export interface GuardRequest {
  method: string;
  /** The absolute URL the client called (scheme and host as the client saw them); the query is ignored. */
  url: string;
  authorization: string | undefined;
  dpop: string | string[] | undefined;
  /** The caller's address, for policy. */
  ip?: string;
  userAgent?: string;
  /** The framework's route template, for policy and its decision cache (default: the path). */
  route?: string;
}

/** Why a request was refused; stable, for tests, logs and metrics. */
export type RefusalCode =
  | 'missing_token'
  | 'malformed_authorization'
  | 'invalid_token'
  | 'token_expired'
  | 'wrong_audience'
  | 'bearer_for_bound_token'
  | 'dpop_for_unbound_token'
  | 'bearer_not_allowed'
  | 'missing_proof'
  | 'invalid_proof'
  | 'proof_replayed'
  | 'nonce_required'
  | 'revoked'
  | 'insufficient_scope'
  | 'policy_denied'
  | 'policy_error'
  | 'revocation_unknown'
  | 'keys_unavailable';

/** The OAuth `error` values a refusal carries in its body. */
export type RefusalError = GuardErrorCode | 'temporarily_unavailable';

export interface GuardRefusal {
  ok: false;
  status: 400 | 401 | 403 | 503;
  code: RefusalCode;
  error: RefusalError;
  description: string;
  /** The WWW-Authenticate value, when the refusal has one (401, and 403 insufficient_scope). */
  wwwAuthenticate: string | undefined;
  /** Every header the response must carry: WWW-Authenticate, Cache-Control, DPoP-Nonce, Retry-After. */
  headers: Readonly<Record<string, string>>;
}

export interface GuardAllow {
  ok: true;
  identity: Readonly<VerifiedIdentity>;
}

export type GuardResult = GuardAllow | GuardRefusal;

/** Per-check additions. */
export interface CheckOptions {
  /** Scopes this request needs besides the guard's `requiredScopes`. */
  scopes?: readonly string[];
}

/** The JSON body of a refusal (RFC 6750 §3 / RFC 6749 §5.2 shape). */
export function refusalBody(refusal: GuardRefusal): string {
  return JSON.stringify({ error: refusal.error, error_description: refusal.description });
}
