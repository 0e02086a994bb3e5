import type { AuditLog } from '../audit/event.js';
import type { Client } from '../clients/client.js';
import type { GrantRecord, GrantStore } from '../grants/grant.js';
import { hashSecret } from '../shared/crypto.js';
import type { Clock } from '../shared/clock.js';
import type { IssuedTokenVerifier } from '../tokens/issued-token-verifier.js';
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token-format.js';
import type { TokenStore } from '../tokens/token-store.js';

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

export interface IntrospectionDeps {
  issuer: string;
  audit: AuditLog;
  grants: GrantStore;
  tokens: TokenStore;
  verifier: IssuedTokenVerifier;
  clock: Clock;
}

const INACTIVE: IntrospectionResponse = { active: false };

/**
 * Token introspection (RFC 7662) for resource servers. Anything expired, revoked, unknown, or for an API the
 * caller does not serve is `active: false`, with nothing more said (§2.2).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export async function introspect(deps: IntrospectionDeps, caller: Client, token: string): Promise<IntrospectionResponse> {
  const now = deps.clock.now();
  const answer = await lookUp(deps, caller, token, now);
  await deps.audit.record([
    {
      type: 'token.introspected',
      at: now,
      clientId: caller.id,
      grantId: answer.active ? String(answer['sid'] ?? '') || null : null,
      jti: answer.active && typeof answer['jti'] === 'string' ? answer['jti'] : null,
      data: { active: answer.active, token_type: answer.active ? answer['token_type'] : null, caller: caller.id },
    },
  ]);
  return answer;
}

async function lookUp(deps: IntrospectionDeps, caller: Client, token: string, now: number): Promise<IntrospectionResponse> {
  const serves = (resource: string) => caller.resources.length === 0 || caller.resources.includes(resource);
  const live = (grant: GrantRecord | undefined): grant is GrantRecord =>
    grant !== undefined && grant.status === 'active' && grant.expiresAt > now;

  if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
    const stored = await deps.tokens.findRefreshToken(hashSecret(token));
    const grant = stored && (await deps.grants.findGrant(stored.grantId));
    if (!stored || stored.status !== 'active' || stored.expiresAt <= now || !live(grant) || !serves(grant.resource)) {
      return INACTIVE;
    }
    return {
      active: true,
      token_type: 'refresh_token',
      iss: deps.issuer,
      sub: grant.userId,
      client_id: grant.clientId,
      scope: grant.scopes.join(' '),
      aud: grant.resource,
      iat: stored.issuedAt,
      exp: stored.expiresAt,
      sid: grant.id,
      ...(grant.dpopJkt ? { cnf: { jkt: grant.dpopJkt } } : {}),
    };
  }

  const claims = await deps.verifier.verify(token, now);
  if (!claims) return INACTIVE;
  // The token is not stored: its signed `sid` names its grant, which decides (revoked, ended, another API).
  const grant = await deps.grants.findGrant(claims.sid);
  if (!live(grant) || !serves(grant.resource)) return INACTIVE;
  const cnf = claims['cnf'] as { jkt?: string } | undefined;
  return { active: true, token_type: cnf?.jkt ? 'DPoP' : 'Bearer', ...claims };
}
