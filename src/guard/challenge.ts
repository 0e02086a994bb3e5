/**
 * WWW-Authenticate challenges for refused requests (RFC 6750 §3, RFC 9449 §7.1). A DPoP challenge lists the
 * algorithms we accept so a client knows how to retry.
 */
export type GuardErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof';

export function challenge(scheme: 'DPoP' | 'Bearer', error: GuardErrorCode, description: string, algs?: readonly string[]): string {
  const parts = [`error="${error}"`, `error_description="${description.replace(/["\\]/g, '')}"`];
  if (scheme === 'DPoP' && algs) parts.push(`algs="${algs.join(' ')}"`);
  return `${scheme} ${parts.join(', ')}`;
}
