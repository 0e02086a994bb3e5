import { stampMs } from '../shared/clock.js';
import { REFRESH_TOKEN_GRANT } from '../oauth/grant-types.js';
import { boundLifetimes, lifetimesFor, policyBoundGrant } from '../grants/lifetime.js';
import { InvalidGrant, InvalidScope } from '../oauth/errors.js';
import type { Revoker } from '../revocation/revoker.js';
import { deviceClaims } from '../policy/device-trust.js';
import { hashSecret } from '../shared/crypto.js';
import { subjectOf } from '../tokens/access-token.js';
import { issuanceEvent, issueTokens } from '../tokens/issue-tokens.js';
import { isWellFormedRefreshToken } from '../tokens/refresh-token-format.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { GrantType, IssuingDeps, TokenRequest, TokenResponse } from './grant-type.js';
import { checkTokenRequestProof } from './proof-policy.js';
import { decideTokenStep } from './token-policy.js';

export interface RefreshTokenGrantDeps extends IssuingDeps {
  tokens: TokenStore;
  revoker: Revoker;
}

/**
 * The refresh_token grant with rotation: each use returns a new refresh token and retires the old one. Presenting
 * a retired one means two parties hold the chain, so the whole grant is revoked (OAuth 2.0 Security BCP §4.14).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
 */
export class RefreshTokenGrant implements GrantType {
  readonly type = REFRESH_TOKEN_GRANT;

  constructor(private readonly deps: RefreshTokenGrantDeps) {}

  async handle(request: TokenRequest): Promise<TokenResponse> {
    const { deps } = this;
    const client = await deps.clients.authenticate(request.credentials, REFRESH_TOKEN_GRANT, request.htu);
    const presented = request.params.require('refresh_token');
    const now = deps.clock.now();
    // Stamped before the grant is read: a revocation that this read does not see is stamped later (inside its
    // transaction), so its statement covers this token at every guard, as the revoked grant does at the server.
    const issuedAtMs = stampMs(deps.clock);
    const proof = await checkTokenRequestProof(deps.proofs, client, request, now);
    if (!isWellFormedRefreshToken(presented)) throw new InvalidGrant('The refresh token is invalid.');

    const hash = hashSecret(presented);
    const stored = await deps.tokens.findRefreshToken(hash);
    const grant = stored && (await deps.grants.findGrant(stored.grantId));
    if (!stored || !grant || grant.clientId !== client.id) throw new InvalidGrant('The refresh token is invalid.');
    // Bound like the access token: a copied refresh token is useless without the key.
    if ((proof?.jkt ?? null) !== grant.dpopJkt) throw new InvalidGrant('The refresh token is bound to a different key.');
    if (stored.status === 'rotated') {
      await this.revokeForReuse(grant.id, hash, request);
      throw new InvalidGrant('The refresh token was already used; the grant is revoked.');
    }
    if (stored.status === 'revoked' || grant.status === 'revoked') throw new InvalidGrant('The grant was revoked.');
    if (stored.expiresAt <= now || grant.expiresAt <= now) throw new InvalidGrant('The grant has ended; sign in again.');

    const resource = deps.clients.resource(grant.resource);
    if (!resource) throw new InvalidGrant('The grant is for a resource that no longer exists.');
    const scopes = this.narrowedScopes(request.params.get('scope'), grant.scopes);
    const { decision, device, user } = await decideTokenStep(deps.policy, {
      step: 'refresh',
      now,
      client,
      resource,
      grant,
      jkt: grant.dpopJkt,
      scopes,
      context: request.context,
    });
    const subject = { ...subjectOf(grant, decision.scopes, grant.dpopJkt), groups: user.groups, claims: deviceClaims(device) };
    const issuance = await issueTokens({
      keys: deps.keys,
      issuer: deps.issuer,
      client,
      subject,
      accessTokenTtl: boundLifetimes(lifetimesFor(deps.lifetimes, client, resource), decision).accessTokenTtl,
      grant: policyBoundGrant(grant, decision),
      parentRefreshHash: hash,
      now,
      issuedAtMs,
    });
    const { issued } = issuance;
    if (!issued.refresh) throw new InvalidGrant('This client no longer gets refresh tokens.');
    const event = issuanceEvent('token.refreshed', subject, issuance, request.context, now, {
      previous_refresh_token_hash: hash,
      device_class: device.class,
      policy: decision.reasons,
    });
    // Lost the race to a concurrent use of the same token: that, too, is reuse.
    if (!(await deps.tokens.rotateRefreshToken(hash, { access: issued.access, refresh: issued.refresh }, [event]))) {
      await this.revokeForReuse(grant.id, hash, request);
      throw new InvalidGrant('The refresh token was already used; the grant is revoked.');
    }
    return issuance.response;
  }

  /** RFC 6749 §6: a refresh may narrow the scope, never widen it. */
  private narrowedScopes(requested: string | undefined, granted: readonly string[]): string[] {
    if (requested === undefined) return [...granted];
    const scopes = [...new Set(requested.split(' ').filter((s) => s.length > 0))];
    const extra = scopes.filter((s) => !granted.includes(s));
    if (scopes.length === 0 || extra.length > 0) throw new InvalidScope('A refresh can only narrow the granted scope.');
    return scopes;
  }

  private revokeForReuse(grantId: string, presentedHash: string, request: TokenRequest) {
    return this.deps.revoker.revoke(
      { kind: 'grant', value: grantId, actor: 'tether', reason: 'refresh token reuse detected', via: 'refresh_token_reuse' },
      {
        type: 'refresh_token.reuse_detected',
        data: { refresh_token_hash: presentedHash, ip: request.context.ip, user_agent: request.context.userAgent },
      },
    );
  }
}
