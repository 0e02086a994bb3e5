import type { AuditLog } from '../audit/event.js';
import type { ClientRegistry } from '../clients/client-registry.js';
import { TOKEN_EXCHANGE_GRANT } from '../oauth/grant-types.js';
import type { PolicyGate } from '../policy-gate/policy-gate.js';
import type { GrantStore } from '../grants/grant.js';
import { InvalidDpopProof, InvalidRequest, InvalidScope, InvalidTarget } from '../oauth/errors.js';
import { deviceFromClaims } from '../policy/device-trust.js';
import { hashSecret } from '../shared/crypto.js';
import { stampMs, type Clock } from '../shared/clock.js';
import { mintAccessToken, subjectOf } from '../tokens/access-token.js';
import type { IssuedTokenVerifier } from '../tokens/issued-token-verifier.js';
import type { KeyRing } from '../tokens/signing-keys.js';
import { matchesWorkload, type FederationVerifier } from '../workloads/federation.js';
import { workloadIdOf, type WorkloadStore } from '../workloads/workload.js';
import { ACCESS_TOKEN_TYPE, issueWorkloadToken, type ExchangeResponse, type WorkloadTokenDeps } from '../workloads/workload-tokens.js';
import type { GrantType, TokenRequest } from './grant-type.js';
import type { ProofPolicy } from './proof-policy.js';

/** RFC 8693 §3 token type identifiers Tether accepts as subject tokens. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** A name a delegated token's actor may be given (`tether_actor`): a tool, an agent, a job. */
const ACTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$/;

export interface TokenExchangeGrantDeps {
  issuer: string;
  proofs: ProofPolicy;
  clock: Clock;
  keys: KeyRing;
  workloads: WorkloadStore;
  federation: FederationVerifier;
  /** How workload tokens are issued (shared with the RFC 7523 grant). */
  issuing: WorkloadTokenDeps;
  /** For delegation: the person's token, their grant, and policy. */
  verifier: IssuedTokenVerifier;
  grants: GrantStore;
  clients: ClientRegistry;
  policy: PolicyGate;
  audit: AuditLog;
  /** The longest a delegated token lives (never beyond its parent). */
  delegationTtl: number;
}

/**
 * RFC 8693 token exchange, two ways:
 *
 * - **Workload federation** (`subject_token_type` jwt): a JWT from a configured external issuer (GitHub Actions,
 *   GitLab CI, a Kubernetes service account) is verified (signature, iss, aud, exp, nbf, iat, jti) and matched to the
 *   active workload that trusts its `sub` and claims; its `jti` is refused a second time while the token lives.
 *   The result is a short workload token bound to the request's DPoP key.
 * - **Delegation** (`subject_token_type` access_token): a person's Tether access token becomes a narrower, shorter
 *   one for a tool or agent, named by `actor_token` (a Tether access token) or `tether_actor`. The person stays
 *   `sub`, the actor goes in `act`, the grant (`sid`) is the parent's, so revoking the person's grant ends it. The
 *   request must prove the parent's key: a copied token cannot be re-bound to a thief's key this way.
 *
 * A DPoP proof is required either way. Refusals: `invalid_request` for a subject or actor token that is invalid
 * or unacceptable (§2.2.2), `invalid_target` and `invalid_scope` for what is asked.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1 (act)
 */
export class TokenExchangeGrant implements GrantType {
  readonly type = TOKEN_EXCHANGE_GRANT;

  constructor(private readonly deps: TokenExchangeGrantDeps) {}

  async handle(request: TokenRequest): Promise<ExchangeResponse> {
    const { params } = request;
    const subjectToken = params.require('subject_token');
    const subjectTokenType = params.require('subject_token_type');
    const requested = params.get('requested_token_type');
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new InvalidRequest('requested_token_type: only access tokens are issued.');
    const now = this.deps.clock.now();
    if (!request.dpopProof) throw new InvalidDpopProof('A token exchange must carry a DPoP proof: the token it yields is bound to that key.');
    const proof = await this.deps.proofs.dpop.verify(request.dpopProof, { htm: 'POST', htu: request.htu, now, nonces: this.deps.proofs.nonces });
    if (subjectTokenType === JWT_TOKEN_TYPE) return this.federate(request, subjectToken, proof.jkt, now);
    if (subjectTokenType === ACCESS_TOKEN_TYPE) return this.delegate(request, subjectToken, proof.jkt, now);
    throw new InvalidRequest('subject_token_type: expected urn:ietf:params:oauth:token-type:jwt or :access_token.');
  }

  private async federate(request: TokenRequest, token: string, jkt: string, now: number): Promise<ExchangeResponse> {
    const { deps } = this;
    if (request.params.get('actor_token') !== undefined) throw new InvalidRequest('actor_token: a workload exchange takes none.');
    const verified = await deps.federation.verify(token, now);
    const { claims } = verified;
    const trusting = await deps.workloads.findFederated(verified.issuer, claims.sub);
    const named = request.params.get('tether_workload');
    const matching = trusting.filter(
      (w) =>
        w.proof.method === 'federated' &&
        matchesWorkload(claims, w.proof.subject, w.proof.claims) &&
        (named === undefined || w.name === named || w.id === named),
    );
    const jtiHash = hashSecret(`${verified.issuer}\n${claims.jti}`);
    if (matching.length === 0) {
      // The workloads that trust this subject but not these claims (another branch, another repository) see it.
      const authentication = { method: 'federated' as const, issuer: verified.issuer, subject: claims.sub, jtiHash };
      await deps.audit.record(
        trusting.map((w) => ({
          type: 'workload.exchange_refused' as const,
          at: now,
          userId: w.ownerId,
          clientId: `workload:${w.id}`,
          grantId: w.provenance.grantId,
          data: { workload: w.id, name: w.name, reason: 'claims do not match', ...authentication, ip: request.context.ip, user_agent: request.context.userAgent },
        })),
      );
      throw new InvalidRequest('subject_token: no active workload trusts this token (issuer, subject and claims).');
    }
    if (matching.length > 1) throw new InvalidRequest('Several workloads trust this token: name one with tether_workload.');
    const workload = matching[0]!;
    return issueWorkloadToken(deps.issuing, {
      workload,
      jkt,
      params: request.params,
      context: request.context,
      authentication: { method: 'federated', issuer: verified.issuer, subject: claims.sub, jtiHash },
      refused: (description) => new InvalidRequest(description),
      jtiExpiresAt: claims.exp,
    });
  }

  private async delegate(request: TokenRequest, token: string, jkt: string, now: number): Promise<ExchangeResponse> {
    const { deps } = this;
    const { params } = request;
    // Stamped before the grant is read: a revocation this read does not see is stamped later (inside its
    // transaction), so its statement covers the delegated token at every guard, as the revoked grant does here.
    const issuedAtMs = stampMs(deps.clock);
    const parent = await deps.verifier.verify(token, now);
    if (!parent || typeof parent.exp !== 'number') throw new InvalidRequest('subject_token: not a valid access token of this server.');
    const sub = String(parent.sub);
    // A workload's token is not a person's: what it may do is fixed by its workload, never passed on.
    if (workloadIdOf(sub) !== undefined) throw new InvalidRequest('subject_token: a workload token cannot be delegated.');
    const bound = (parent['cnf'] as { jkt?: unknown } | undefined)?.jkt;
    if (typeof bound === 'string' && bound !== jkt) throw new InvalidRequest('subject_token: the DPoP proof must be made with the key the token is bound to.');
    const grant = await deps.grants.findGrant(String(parent['sid']));
    if (!grant || grant.status !== 'active' || grant.expiresAt <= now) throw new InvalidRequest('subject_token: its grant has ended or was revoked.');
    const client = deps.clients.find(String(parent['client_id']));
    const resource = deps.clients.resource(grant.resource);
    if (!client || !resource) throw new InvalidRequest('subject_token: its client or API no longer exists.');

    const actor = await this.actorOf(params, now);
    const audience = [...params.getAll('resource'), ...params.getAll('audience')];
    if (audience.some((a) => a !== resource.uri)) throw new InvalidTarget('A delegated token is for the same API as its parent.');
    const parentScopes = typeof parent['scope'] === 'string' ? parent['scope'].split(' ').filter(Boolean) : [];
    const requested = params.get('scope');
    const scopes = requested === undefined ? parentScopes : [...new Set(requested.split(' ').filter(Boolean))];
    if (scopes.length === 0 || scopes.some((s: string) => !parentScopes.includes(s))) throw new InvalidScope('A delegated token can only narrow its parent\'s scope.');

    const user = await deps.policy.user(grant.userId);
    if (!user) throw new InvalidRequest('subject_token: the person it is for is no longer known.');
    const device = deviceFromClaims(parent);
    const decision = deps.policy.decide({
      step: 'delegation',
      now,
      client: { id: client.id },
      resource: { uri: resource.uri, tier: resource.tier },
      device,
      scopes,
      user,
      actor: actor.sub,
      requester: request.context,
    });
    if (decision.decision === 'deny') {
      throw await deps.policy.refuse('delegation', decision, {
        at: now,
        userId: grant.userId,
        clientId: client.id,
        grantId: grant.id,
        jkt,
        data: { actor: actor.sub, scopes, resource: resource.uri, ip: request.context.ip },
      });
    }
    // Never longer than the parent's remaining life (nor the grant's), whatever else allows.
    const ttl = Math.min(deps.delegationTtl, parent.exp - now, grant.expiresAt - now, decision.ttl ?? Infinity);
    if (ttl < 1) throw new InvalidRequest('subject_token: it is about to expire.');
    const previous = parent['act'];
    const act = typeof previous === 'object' && previous !== null ? { ...actor, act: previous } : actor;
    const minted = await mintAccessToken(
      deps.keys,
      deps.issuer,
      {
        ...subjectOf(grant, decision.scopes, jkt),
        // The person's groups as the directory has them now, as at a refresh (policy at the API reads them).
        groups: user.groups,
        claims: { act, device_class: device.class, device_enrolled: device.enrolled },
      },
      ttl,
      now,
      issuedAtMs,
    );
    await deps.audit.record([
      {
        type: 'token.delegated',
        at: now,
        userId: grant.userId,
        clientId: client.id,
        grantId: grant.id,
        jti: minted.jti,
        jkt,
        parent: { type: 'token.issued', grantId: grant.id },
        data: {
          actor: actor.sub,
          parent_jti: parent.jti ?? null,
          token_type: 'DPoP',
          scopes: decision.scopes,
          resource: resource.uri,
          ttl,
          expires_at: minted.expiresAt,
          policy: decision.reasons,
          ip: request.context.ip,
          user_agent: request.context.userAgent,
        },
      },
    ]);
    return {
      access_token: minted.token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'DPoP',
      expires_in: minted.expiresIn,
      scope: decision.scopes.join(' '),
    };
  }

  /** The actor: a Tether access token's subject (`actor_token`), or a name (`tether_actor`). */
  private async actorOf(params: TokenRequest['params'], now: number): Promise<{ sub: string }> {
    const actorToken = params.get('actor_token');
    const actorName = params.get('tether_actor');
    if (actorToken !== undefined) {
      if (params.get('actor_token_type') !== ACCESS_TOKEN_TYPE) throw new InvalidRequest('actor_token_type: expected urn:ietf:params:oauth:token-type:access_token.');
      const claims = await this.deps.verifier.verify(actorToken, now);
      if (!claims || typeof claims.sub !== 'string') throw new InvalidRequest('actor_token: not a valid access token of this server.');
      return { sub: claims.sub };
    }
    if (params.get('actor_token_type') !== undefined) throw new InvalidRequest('actor_token_type: sent without actor_token.');
    if (actorName === undefined) throw new InvalidRequest('Name who the delegated token is for: actor_token or tether_actor.');
    if (!ACTOR_NAME.test(actorName)) throw new InvalidRequest('tether_actor: letters, digits and . _ : @ / + - (up to 128).');
    return { sub: actorName };
  }
}
