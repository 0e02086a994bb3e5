import type { Client } from '../clients/client.js';
import type { GrantStore } from '../grants/grant.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import type { IssuedTokenVerifier } from '../tokens/issued-token-verifier.js';
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token-format.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { Revoker } from './revoker.js';

export interface TokenRevocationDeps {
  grants: GrantStore;
  tokens: TokenStore;
  verifier: IssuedTokenVerifier;
  revoker: Revoker;
  clock: Clock;
}

/**
 * RFC 7009 revocation: revoking either token of a grant ends the whole grant, so the refresh token cannot mint
 * new access tokens and every access token of it reads as revoked. The hint only says where to look first; we
 * recognize both kinds by their shape. Unknown tokens, and tokens of other clients, are silently ignored (§2.2).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 */
export async function revokeToken(deps: TokenRevocationDeps, client: Client, token: string): Promise<void> {
  const grantId = await grantOf(deps, token);
  if (grantId === undefined) return;
  const grant = await deps.grants.findGrant(grantId);
  if (!grant || grant.clientId !== client.id || grant.status !== 'active') return;
  await deps.revoker.revoke({
    kind: 'grant',
    value: grant.id,
    actor: `client:${client.id}`,
    reason: 'token revoked by its client',
    via: 'token_revocation',
  });
}

async function grantOf(deps: TokenRevocationDeps, token: string): Promise<string | undefined> {
  if (token.startsWith(REFRESH_TOKEN_PREFIX)) return (await deps.tokens.findRefreshToken(hashSecret(token)))?.grantId;
  // An expired access token needs no revoking; verify() refuses it.
  // The token is not stored: its signed `sid` names its grant.
  return (await deps.verifier.verify(token, deps.clock.now()))?.sid;
}
