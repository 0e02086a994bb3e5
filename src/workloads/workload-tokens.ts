import type { AuditEventInput, AuditLog } from '../audit/event.js';
import type { Resource } from '../clients/client.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { resourceFacts, type PolicyGate } from '../policy-gate/policy-gate.js';
import type { TokenResponse } from '../grant-types/grant-type.js';
import type { FormParams } from '../oauth/form-params.js';
import { InvalidScope, InvalidTarget, type OAuthError } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';
import { mintAccessToken } from '../tokens/access-token.js';
import type { KeyRing } from '../tokens/signing-keys.js';
import { effectiveStatus, workloadSubject, type Workload, type WorkloadStore } from './workload.js';

/** RFC 8693 §3: the token type Tether issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** RFC 8693 §2.2.1: a token exchange response also says what kind of token it issued. */
export interface ExchangeResponse extends TokenResponse {
  issued_token_type: typeof ACCESS_TOKEN_TYPE;
}

export interface WorkloadTokenDeps {
  issuer: string;
  keys: KeyRing;
  store: WorkloadStore;
  audit: AuditLog;
  policy: PolicyGate;
  clock: Clock;
  resource: (uri: string) => Resource | undefined;
  scopes: readonly string[];
  /** `workloads.access_token_ttl`, never above `tokens.access_token_ttl` (what guards keep statements for). */
  accessTokenTtl: number;
}

/** How the workload proved itself this time, for policy and the audit. */
export interface WorkloadAuthentication {
  method: 'federated' | 'key';
  /** The federated issuer. */
  issuer?: string;
  /** The external token's or assertion's `sub`. */
  subject: string;
  /** SHA-256 of issuer and jti: what replay is checked on, never the token. */
  jtiHash: string;
}

/**
 * Issues a workload's access token once it has proved itself: the workload must be active and unexpired, its owner
 * still known, the API one of its own (`resource` or `audience`, RFC 8693 §2.1) and the scopes within its
 * allowance; policy (`Tether::Action::"ExchangeToken"`, the workload as principal) may narrow and shorten. The token
 * is short-lived and bound to the DPoP key of the request: `sub` and `client_id` are `workload:<id>`, `owner` names
 * the person, so an `owner` revocation (offboarding) reaches it at every guard. The replay check (the presented
 * token's jti, claimed once) commits in one transaction with the audit event, after every other check: a replayed
 * token gets nothing, and no token is returned that is not on record.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export async function issueWorkloadToken(
  deps: WorkloadTokenDeps,
  request: {
    workload: Workload;
    jkt: string;
    params: FormParams;
    context: RequestOrigin;
    authentication: WorkloadAuthentication;
    /** The grant's error for a refused proof: invalid_request (RFC 8693) or invalid_grant (RFC 7523). */
    refused: (description: string) => OAuthError;
    /** Until when the presented token's jti stays claimed (its `exp`). */
    jtiExpiresAt: number;
  },
): Promise<ExchangeResponse> {
  const { workload, context, authentication } = request;
  const now = deps.clock.now();
  const refuse = async (reason: string, data: Record<string, unknown> = {}): Promise<never> => {
    await deps.audit.record([refusalEvent(workload, now, context, authentication, reason, data)]);
    throw request.refused(reason);
  };
  const status = effectiveStatus(workload, now);
  if (status !== 'active') return refuse(`The workload is ${status}.`);
  const owner = await deps.policy.user(workload.ownerId);
  if (!owner) return refuse('The workload\'s owner is no longer known.');

  const resource = pickResource(deps, workload, request.params);
  const scopes = pickScopes(deps, workload, resource, request.params.get('scope'));
  const device = { jkt: request.jkt, class: 'automation' as const, enrolled: false };
  const decision = deps.policy.decide({
    step: 'workload_exchange',
    now,
    client: { id: workloadSubject(workload.id) },
    resource: resourceFacts(resource),
    device,
    scopes,
    workload: { id: workload.id, owner: workload.ownerId },
    authentication: authentication.method,
    ...(authentication.issuer ? { issuer: authentication.issuer } : {}),
    workloadCreatedAt: workload.createdAt,
    requester: context,
  });
  if (decision.decision === 'deny') {
    const error = await deps.policy.refuse('workload_exchange', decision, refusalEvent(workload, now, context, authentication, decision.message, {}));
    throw error.code === 'invalid_scope' ? error : request.refused(error.description ?? decision.message);
  }

  const ttl = Math.max(
    1,
    Math.min(deps.accessTokenTtl, resource.accessTokenTtl ?? Infinity, decision.ttl ?? Infinity, workload.expiresAt - now),
  );
  const subject = workloadSubject(workload.id);
  const minted = await mintAccessToken(
    deps.keys,
    deps.issuer,
    {
      grantId: subject,
      userId: subject,
      clientId: subject,
      scopes: decision.scopes,
      resource: resource.uri,
      dpopJkt: request.jkt,
      authTime: now,
      claims: { owner: workload.ownerId, workload_name: workload.name, device_class: 'automation', device_enrolled: false },
    },
    ttl,
    now,
  );
  // On record before it is returned: a trace on this jti leads to the workload and the login that created it.
  const recorded = await deps.store.recordExchange({ jtiHash: authentication.jtiHash, expiresAt: request.jtiExpiresAt, workloadId: workload.id, at: now }, [
    {
      type: 'workload.token_issued',
      at: now,
      userId: workload.ownerId,
      clientId: subject,
      grantId: workload.provenance.grantId,
      jti: minted.jti,
      jkt: request.jkt,
      parent: { type: 'workload.created', grantId: workload.provenance.grantId },
      data: {
        workload: workload.id,
        name: workload.name,
        authentication: authentication.method,
        issuer: authentication.issuer ?? null,
        subject: authentication.subject,
        external_jti_hash: authentication.jtiHash,
        token_type: 'DPoP',
        scopes: decision.scopes,
        resource: resource.uri,
        ttl,
        expires_at: minted.expiresAt,
        policy: decision.reasons,
        ip: context.ip,
        user_agent: context.userAgent,
      },
    },
  ]);
  // The token just minted is dropped unseen.
  if (!recorded) return refuse('This token was already used (jti replay).');
  return {
    access_token: minted.token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'DPoP',
    expires_in: minted.expiresIn,
    scope: decision.scopes.join(' '),
  };
}

function refusalEvent(
  workload: Workload,
  now: number,
  context: RequestOrigin,
  authentication: WorkloadAuthentication,
  reason: string,
  data: Record<string, unknown>,
): AuditEventInput {
  return {
    type: 'workload.exchange_refused',
    at: now,
    userId: workload.ownerId,
    clientId: workloadSubject(workload.id),
    grantId: workload.provenance.grantId,
    data: {
      workload: workload.id,
      name: workload.name,
      reason,
      authentication: authentication.method,
      issuer: authentication.issuer ?? null,
      subject: authentication.subject,
      external_jti_hash: authentication.jtiHash,
      ip: context.ip,
      user_agent: context.userAgent,
      ...data,
    },
  };
}

/** RFC 8693 §2.1 / RFC 8707: `resource` (or `audience`) names one of the workload's APIs; absent, its only one. */
function pickResource(deps: WorkloadTokenDeps, workload: Workload, params: FormParams): Resource {
  const named = [...params.getAll('resource'), ...params.getAll('audience')];
  const unique = [...new Set(named)];
  if (unique.length > 1) throw new InvalidTarget('Ask for one API per token.');
  const uri = unique[0] ?? (workload.resources.length === 1 ? workload.resources[0] : undefined);
  if (uri === undefined) throw new InvalidTarget('This workload may reach several APIs: name one with resource.');
  const resource = workload.resources.includes(uri) ? deps.resource(uri) : undefined;
  if (!resource) throw new InvalidTarget('This workload may not get tokens for that API.');
  return resource;
}

/** RFC 6749 §3.3: within the workload's scopes (and what the API understands); absent, all of them. */
function pickScopes(deps: WorkloadTokenDeps, workload: Workload, resource: Resource, requested: string | undefined): string[] {
  const understood = resource.scopes.length > 0 ? resource.scopes : deps.scopes;
  const allowed = workload.scopes.filter((s) => understood.includes(s));
  if (requested === undefined) {
    if (allowed.length === 0) throw new InvalidScope('This workload has no scope on that API.');
    return allowed;
  }
  const scopes = [...new Set(requested.split(' ').filter((s) => s.length > 0))];
  if (scopes.length === 0 || scopes.some((s) => !allowed.includes(s))) throw new InvalidScope('That scope is beyond this workload\'s allowance.');
  return scopes;
}
