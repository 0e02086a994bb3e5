import type { ProofHeaderMemo } from '../dpop/proof-verifier.js';
import type { DecisionMemo } from './policy.js';

/**
 * What the guard found for one verified token on its last request, reused on the next only while everything the
 * answer rests on is exactly as it was. It lives in the token cache with the token (so it is bounded by it and goes
 * with it); no entry lets a request skip a check, each only spares recomputing an answer from equal inputs:
 *
 * - `proof`: the proof header the token's client last sent, by its exact text, and the key and thumbprint derived
 *   from it; a proof with any other header is parsed and checked in full. The signature of every proof is still
 *   checked, and the thumbprint still compared with the token's `cnf.jkt`;
 * - `notRevokedAt`: the revocation source's version when the token was last found not revoked. A statement can
 *   only be added by a change of version; with time one only ends, so "not revoked" cannot turn into "revoked"
 *   while the version stays;
 * - `decision`: the policy decision last used for the token, with the facts it was keyed by (policy generation,
 *   method, route, context key, and until when it holds), compared one by one before it is reused.
 */
export interface TokenMemo {
  readonly proof: ProofHeaderMemo;
  notRevokedAt: number;
  decision: DecisionMemo | undefined;
}

/** A memo that knows nothing yet. */
export function emptyTokenMemo(): TokenMemo {
  return { proof: { raw: '', header: undefined }, notRevokedAt: Number.NaN, decision: undefined };
}
