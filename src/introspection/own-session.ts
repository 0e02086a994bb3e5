import type { GrantStore } from '../grants/grant.js';
import { InvalidDpopProof } from '../oauth/errors.js';
import type { IssuedTokenVerifier } from '../tokens/issued-token-verifier.js';

export interface OwnSessionDeps {
  grants: GrantStore;
  verifier: IssuedTokenVerifier;
}

/** The whole answer: whether the caller's own grant is live, and until when. Nothing about anyone else's. */
export type OwnSessionStatus = { active: false } | { active: true; expires_at: number };

/**
 * What `tether status` asks: is my session still alive at the server? RFC 7662 introspection is for resource
 * servers that authenticate, which a public client cannot; this answers only its holder, about its own grant:
 * the access token and a DPoP proof by the key it is bound to (the proof's key thumbprint `jkt` must be the
 * token's `cnf.jkt`). Revoked, ended or unknown is `active: false`, as in RFC 7662 §2.2.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export async function ownSessionStatus(deps: OwnSessionDeps, token: string, proofJkt: string, now: number): Promise<OwnSessionStatus> {
  const claims = await deps.verifier.verify(token, now);
  if (!claims) return { active: false };
  const cnf = claims['cnf'] as { jkt?: string } | undefined;
  // A token without a key, or with another one, is not the caller's to ask about.
  if (cnf?.jkt !== proofJkt) throw new InvalidDpopProof('The proof is not by the key the token is bound to.');
  // The token is not stored: its signed `sid` names its grant.
  const grant = await deps.grants.findGrant(claims.sid);
  if (!grant || grant.status !== 'active' || grant.expiresAt <= now) return { active: false };
  return { active: true, expires_at: grant.expiresAt };
}
