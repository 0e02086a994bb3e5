/**
 * WWW-Authenticate challenges for refused requests (RFC 6750 §3, RFC 9449 §7.1). A DPoP challenge lists the
 * algorithms we accept so a client knows how to retry.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export type GuardErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce';

export interface ChallengeParams {
  error?: GuardErrorCode;
  description?: string;
  /** Algorithms for a DPoP challenge. */
  algs?: readonly string[];
  /** For insufficient_scope: the scopes the request needs (RFC 6750 §3). */
  scope?: readonly string[];
  realm?: string;
}

/** One challenge, e.g. `DPoP error="invalid_token", error_description="...", algs="ES256"`. */
export function challenge(scheme: 'DPoP' | 'Bearer', error: GuardErrorCode, description: string, algs?: readonly string[]): string {
  return formatChallenge(scheme, { error, description, algs });
}

/** A challenge with any of its parameters; a bare scheme when there are none. */
export function formatChallenge(scheme: 'DPoP' | 'Bearer', params: ChallengeParams): string {
  const parts: string[] = [];
  if (params.realm !== undefined) parts.push(`realm="${quotable(params.realm)}"`);
  if (params.error) parts.push(`error="${params.error}"`);
  if (params.description) parts.push(`error_description="${quotable(params.description)}"`);
  if (params.scope && params.scope.length > 0) parts.push(`scope="${quotable(params.scope.join(' '))}"`);
  if (scheme === 'DPoP' && params.algs) parts.push(`algs="${params.algs.join(' ')}"`);
  return parts.length > 0 ? `${scheme} ${parts.join(', ')}` : scheme;
}

/** RFC 6750 §3: the values are limited to printable ASCII without `"` and `\`. */
function quotable(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
}
