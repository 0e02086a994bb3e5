import type { AuditEventInput } from '../audit/event.js';
import type { Resource } from '../clients/client.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { resourceFacts, type PolicyGate } from '../policy-gate/policy-gate.js';
import { InvalidRequest, InvalidScope, InvalidTarget, OAuthError } from '../oauth/errors.js';
import type { Revoker } from '../revocation/revoker.js';
import type { Clock } from '../shared/clock.js';
import { uuidv7 } from '../shared/ids.js';
import type { DeviceFacts } from '../policy/types.js';
import { registeredPublicKey } from './public-key.js';
import { effectiveStatus, type Workload, type WorkloadChange, type WorkloadProof, type WorkloadStatus, type WorkloadStore } from './workload.js';

/** The person's login a workload is created under, as their verified access token says it. */
export interface OwnerLogin {
  userId: string;
  /** The token's grant (`sid`): the approval the workload descends from. */
  grantId: string;
  clientId: string;
  jti: string;
  device: DeviceFacts;
}

/** What a creation request asks for, parsed from JSON at the HTTP boundary. */
export interface WorkloadRequest {
  name: string;
  purpose: string;
  resources: string[];
  scopes: string[];
  /** Seconds from now. */
  expiresIn: number;
  proof:
    | { method: 'federated'; issuer: string; subject: string; claims: Record<string, string> }
    | { method: 'key'; publicKey: unknown };
}

/** A 404 for a workload the caller cannot see: not theirs, or gone. */
export class WorkloadNotFound extends OAuthError {
  readonly code = 'invalid_request';
  override readonly status = 404;
}

/** Policy (or the directory) refuses: 403 access_denied, since this API is not an OAuth grant. */
export class WorkloadForbidden extends OAuthError {
  readonly code = 'access_denied';
  override readonly status = 403;
}

/** A lifecycle change the workload's state does not allow (409). */
export class WorkloadConflict extends OAuthError {
  readonly code = 'invalid_request';
  override readonly status = 409;
}

export interface WorkloadServiceDeps {
  store: WorkloadStore;
  policy: PolicyGate;
  revoker: Revoker;
  clock: Clock;
  resource: (uri: string) => Resource | undefined;
  /** Every configured scope (a resource without its own list understands all of them). */
  scopes: readonly string[];
  /** Whether `federation.issuers` trusts this issuer. */
  trustsIssuer: (issuer: string) => boolean;
  /** `workloads.max_ttl`. */
  maxTtl: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Creating and governing workloads: only a person, from their own DPoP-bound login, creates one; policy
 * (`Tether::Action::"CreateWorkload"`) decides per resource and may narrow scopes and shorten its life; every change
 * is audited in its transaction; suspending, deleting or re-keying revokes its tokens with a `workload` statement,
 * and offboarding a person suspends all of theirs with an `owner` statement.
 */
export class WorkloadService {
  constructor(private readonly deps: WorkloadServiceDeps) {}

  async create(owner: OwnerLogin, request: WorkloadRequest, context: RequestOrigin): Promise<Workload> {
    const { deps } = this;
    const now = deps.clock.now();
    if (!NAME.test(request.name)) throw new InvalidRequest('name: letters, digits, . _ - (up to 63), starting with a letter or digit.');
    if (request.purpose.trim().length === 0 || request.purpose.length > 500) throw new InvalidRequest('purpose: say what it is for (up to 500 characters).');
    if (!Number.isInteger(request.expiresIn) || request.expiresIn <= 0) throw new InvalidRequest('expires_in: a workload needs an expiry (seconds).');
    if (request.expiresIn > deps.maxTtl) throw new InvalidRequest(`expires_in: at most ${deps.maxTtl} seconds (workloads.max_ttl).`);
    const resources = [...new Set(request.resources)];
    if (resources.length === 0) throw new InvalidTarget('resources: name at least one API.');
    const scopes = [...new Set(request.scopes)];
    if (scopes.length === 0) throw new InvalidScope('scopes: name at least one scope.');
    const apis = resources.map((uri) => {
      const api = deps.resource(uri);
      if (!api) throw new InvalidTarget(`resources: ${uri} is not a configured API.`);
      const understood = api.scopes.length > 0 ? api.scopes : deps.scopes;
      const unknown = scopes.find((s) => !understood.includes(s));
      if (unknown) throw new InvalidScope(`scopes: ${uri} has no scope ${unknown}.`);
      return api;
    });
    const proof = await this.proofOf(request.proof);
    if (await deps.store.findByName(owner.userId, request.name)) throw new WorkloadConflict(`A workload named ${request.name} already exists.`);
    const user = await deps.policy.user(owner.userId);
    if (!user) throw new WorkloadForbidden('The person this login is for is no longer known.');

    // Policy decides per API; the workload keeps only what every decision left (never more than asked).
    let granted = scopes;
    let lifetime = request.expiresIn;
    const reasons: string[] = [];
    for (const api of apis) {
      const decision = deps.policy.decide({
        step: 'workload_creation',
        now,
        client: { id: owner.clientId },
        resource: resourceFacts(api),
        device: owner.device,
        scopes,
        user,
        lifetime: request.expiresIn,
        authentication: proof.method,
        ...(proof.method === 'federated' ? { issuer: proof.issuer } : {}),
        requester: context,
      });
      if (decision.decision === 'deny') {
        const refusal = await deps.policy.refuse('workload_creation', decision, {
          at: now,
          userId: owner.userId,
          clientId: owner.clientId,
          grantId: owner.grantId,
          jkt: owner.device.jkt,
          data: { workload_name: request.name, resource: api.uri, scopes, lifetime: request.expiresIn, device_class: owner.device.class, ip: context.ip },
        });
        throw refusal.code === 'invalid_scope' ? refusal : new WorkloadForbidden(refusal.description);
      }
      granted = granted.filter((s) => decision.scopes.includes(s));
      lifetime = Math.min(lifetime, decision.ttl ?? Infinity);
      reasons.push(...decision.reasons);
    }
    if (granted.length === 0) throw new InvalidScope('Policy leaves this workload no scope.');

    const workload: Workload = {
      id: uuidv7(),
      name: request.name,
      ownerId: owner.userId,
      purpose: request.purpose,
      resources,
      scopes: granted,
      proof,
      createdAt: now,
      expiresAt: now + lifetime,
      lastUsedAt: null,
      status: 'active',
      statusChangedAt: now,
      tokensRevokedBefore: null,
      provenance: { grantId: owner.grantId, jkt: owner.device.jkt, deviceClass: owner.device.class, clientId: owner.clientId },
    };
    await deps.store.create(workload, [
      {
        type: 'workload.created',
        at: now,
        userId: owner.userId,
        clientId: owner.clientId,
        grantId: owner.grantId,
        jkt: owner.device.jkt,
        parent: { type: 'device.approved', grantId: owner.grantId },
        data: {
          ...describeWorkload(workload),
          token_jti: owner.jti,
          device_class: owner.device.class,
          requested_scopes: scopes,
          requested_lifetime: request.expiresIn,
          policy: [...new Set(reasons)],
          ip: context.ip,
          user_agent: context.userAgent,
        },
      },
    ]);
    return workload;
  }

  /** The owner's workloads (not deleted), with expired ones shown as such. */
  async list(ownerId: string): Promise<Workload[]> {
    const now = this.deps.clock.now();
    return (await this.deps.store.list(ownerId)).map((w) => ({ ...w, status: effectiveStatus(w, now) }));
  }

  /** Every workload (not deleted), for administrators and security teams. */
  async all(): Promise<Workload[]> {
    const now = this.deps.clock.now();
    return (await this.deps.store.list()).map((w) => ({ ...w, status: effectiveStatus(w, now) }));
  }

  /** One of the owner's workloads; a 404 for anyone else's, so ids cannot be probed. */
  async get(ownerId: string, id: string): Promise<Workload> {
    const workload = await this.deps.store.find(id);
    if (!workload || workload.ownerId !== ownerId || workload.status === 'deleted') throw new WorkloadNotFound('No such workload.');
    return { ...workload, status: effectiveStatus(workload, this.deps.clock.now()) };
  }

  /**
   * Suspend, resume, delete or rotate the key of one of the owner's workloads. Everything but resume also revokes
   * every token it holds (a `workload` statement, pushed to guards): a suspended or re-keyed workload's tokens
   * die now, not at their expiry.
   */
  async change(owner: OwnerLogin, id: string, change: WorkloadChange, context: RequestOrigin, newKey?: unknown): Promise<Workload> {
    const { deps } = this;
    const workload = await this.get(owner.userId, id);
    const now = deps.clock.now();
    const rule: Record<WorkloadChange, { from: WorkloadStatus[]; to: WorkloadStatus; event: AuditEventInput['type'] }> = {
      suspend: { from: ['active'], to: 'suspended', event: 'workload.suspended' },
      resume: { from: ['suspended'], to: 'active', event: 'workload.resumed' },
      delete: { from: ['active', 'suspended', 'expired'], to: 'deleted', event: 'workload.deleted' },
      'rotate-key': { from: ['active', 'suspended'], to: workload.status, event: 'workload.key_rotated' },
    };
    const { from, to, event } = rule[change];
    if ((change === 'resume' || change === 'rotate-key') && workload.status === 'expired') {
      throw new WorkloadConflict('This workload has expired; create a new one.');
    }
    let proof: WorkloadProof | undefined;
    if (change === 'rotate-key') {
      if (workload.proof.method !== 'key') throw new WorkloadConflict('Only a key-bound workload has a key to rotate.');
      proof = await this.proofOf({ method: 'key', publicKey: newKey });
      if (proof.method === 'key' && proof.jkt === workload.proof.jkt) throw new InvalidRequest('public_key: that is the current key.');
    }
    const data: Record<string, unknown> = {
      workload: workload.id,
      name: workload.name,
      from: workload.status,
      to,
      actor: `user:${owner.userId}`,
      // The login that made the change, as for the creation.
      token_jti: owner.jti,
      device_jkt: owner.device.jkt,
      ip: context.ip,
      user_agent: context.userAgent,
      ...(proof?.method === 'key' ? { key_thumbprint: proof.jkt, previous_key_thumbprint: workload.proof.method === 'key' ? workload.proof.jkt : null } : {}),
    };
    const changed = await deps.store.update(id, { from, status: to, at: now, revokeTokens: change !== 'resume', ...(proof ? { proof } : {}) }, [
      { type: event, at: now, userId: workload.ownerId, clientId: owner.clientId, grantId: workload.provenance.grantId, data },
    ]);
    if (!changed) throw new WorkloadConflict(`This workload is ${workload.status}; it cannot ${change === 'rotate-key' ? 'be re-keyed' : change}.`);
    if (change !== 'resume') {
      await deps.revoker.revoke({ kind: 'workload', value: workload.id, actor: `user:${owner.userId}`, reason: `workload ${change}`, via: 'workload_lifecycle' });
    }
    return this.get(owner.userId, id).catch(() => ({ ...workload, status: to }));
  }

  /**
   * Offboarding (OWASP NHI1): the person's workloads are suspended and every token they hold is revoked with one
   * `owner` statement, pushed to guards. Called when all of a person's grants are revoked by user.
   */
  async offboard(ownerId: string, actor: string, reason: string): Promise<Workload[]> {
    const now = this.deps.clock.now();
    const suspended = await this.deps.store.suspendOwned(ownerId, now, (w) => [
      {
        type: 'workload.suspended',
        at: now,
        userId: ownerId,
        clientId: w.provenance.clientId,
        grantId: w.provenance.grantId,
        data: { workload: w.id, name: w.name, from: w.status, to: 'suspended', actor, reason: `owner offboarded: ${reason}` },
      },
    ]);
    await this.deps.revoker.revoke({ kind: 'owner', value: ownerId, actor, reason: `owner offboarded: ${reason}`, via: 'workload_lifecycle' });
    return suspended;
  }

  /**
   * Offboarding by the directory (OWASP NHI1): every person who owns an active workload but is no longer in the
   * user directory is offboarded as if revoked by user. Run at start and with the periodic cleanup, so a person
   * removed from the directory stops their workloads within a cleanup interval. Returns who was offboarded.
   */
  async offboardDeparted(isKnown: (userId: string) => Promise<boolean>): Promise<string[]> {
    const owners = new Set((await this.deps.store.list()).filter((w) => w.status === 'active').map((w) => w.ownerId));
    const departed: string[] = [];
    for (const owner of owners) {
      if (await isKnown(owner)) continue;
      await this.offboard(owner, 'tether', 'no longer in the user directory');
      departed.push(owner);
    }
    return departed;
  }

  private async proofOf(proof: WorkloadRequest['proof']): Promise<WorkloadProof> {
    if (proof.method === 'key') return { method: 'key', ...(await registeredPublicKey(proof.publicKey)) };
    if (!this.deps.trustsIssuer(proof.issuer)) throw new InvalidRequest(`federated.issuer: ${proof.issuer} is not a trusted issuer (federation.issuers).`);
    if (proof.subject.length === 0) throw new InvalidRequest('federated.subject: required.');
    return { method: 'federated', issuer: proof.issuer, subject: proof.subject, claims: proof.claims };
  }
}

/** What audit events and the API say about a workload (never a secret: a workload has none). */
export function describeWorkload(w: Workload): Record<string, unknown> {
  return {
    workload: w.id,
    name: w.name,
    owner: w.ownerId,
    purpose: w.purpose,
    resources: w.resources,
    scopes: w.scopes,
    authentication: w.proof.method,
    ...(w.proof.method === 'federated'
      ? { issuer: w.proof.issuer, subject: w.proof.subject, claims: w.proof.claims }
      : { key_thumbprint: w.proof.jkt }),
    expires_at: w.expiresAt,
  };
}
