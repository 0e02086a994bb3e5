import { uuidv7 } from '../shared/ids.js';
import type { AuditEventInput } from '../audit/event.js';
import { sameNetwork } from '../verification/network.js';
import type { Client, Resource } from '../clients/client.js';
import type { ClientRegistry } from '../clients/client-registry.js';
import { boundLifetimes, lifetimesFor, type LifetimeDefaults } from '../grants/lifetime.js';
import type { Clock } from '../shared/clock.js';
import type { Authentication, User } from '../users/user.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { DeviceAuthorization, DeviceAuthorizationStore } from './device-authorization.js';
import { resourceFacts, type PolicyGate } from '../policy-gate/policy-gate.js';

/** A person's sign-in as an approval carries it to policy: how, and when (seconds since the epoch). */
export type ApproverSignIn = Authentication & { at: number };

/** A pending request as the review screen shows it. */
export interface PendingRequest {
  authorization: DeviceAuthorization;
  client: Client;
  resource: Resource;
}

/**
 * What came of pressing Approve: the grant; a refusal by policy (the request is denied, and the person reads why);
 * or nothing, because the request was no longer pending.
 */
export type ApprovalOutcome =
  | { status: 'approved'; grantId: string }
  | { status: 'refused'; message: string }
  | { status: 'gone' };

/**
 * A person's decision on a device's request (RFC 8628 §3.3): find it by user code, then approve (creating the
 * grant) or deny (ending the code, so the device gets access_denied).
 */
export class DeviceDecisions {
  constructor(
    private readonly store: DeviceAuthorizationStore,
    private readonly clients: ClientRegistry,
    private readonly clock: Clock,
    private readonly lifetimes: LifetimeDefaults,
    private readonly policy: PolicyGate,
  ) {}

  /** The live, undecided request with this (normalized) user code. */
  async findPending(userCode: string): Promise<PendingRequest | undefined> {
    return this.pending(await this.store.findByUserCode(userCode));
  }

  /** The live, undecided request with this id (one the person already reached by its code). */
  async findPendingById(id: string): Promise<PendingRequest | undefined> {
    return this.pending(await this.store.findById(id));
  }

  private pending(authorization: DeviceAuthorization | undefined): PendingRequest | undefined {
    if (!authorization || authorization.status !== 'pending' || authorization.expiresAt <= this.clock.now()) {
      return undefined;
    }
    const client = this.clients.find(authorization.clientId);
    const resource = this.clients.resource(authorization.resource);
    if (!client || !resource) return undefined;
    return { authorization, client, resource };
  }

  /** Whether the request with this user code or id was abandoned by its device: the page then says so. */
  async wasAbandoned(lookup: { userCode: string } | { id: string }): Promise<boolean> {
    const authorization = 'id' in lookup ? await this.store.findById(lookup.id) : await this.store.findByUserCode(lookup.userCode);
    return authorization?.status === 'abandoned';
  }

  countLive(): Promise<number> {
    return this.store.countLive(this.clock.now());
  }

  /**
   * What approving would grant now, for the review screen: the scopes after policy's narrowing, or the reason it
   * would refuse. Nothing is recorded; Approve asks policy again, and that answer is the one that counts.
   */
  async preview(request: PendingRequest, user: User, signIn: ApproverSignIn, approver: RequestOrigin): Promise<{ scopes: string[] } | { refused: string }> {
    const { decision } = await this.ask(request, user, signIn, approver);
    return decision.decision === 'deny' ? { refused: decision.message } : { scopes: decision.scopes };
  }

  private async ask(request: PendingRequest, user: User, signIn: ApproverSignIn, approver: RequestOrigin) {
    const { authorization } = request;
    const device = await this.policy.device(authorization.deviceJkt ?? authorization.dpopJkt, authorization.environment);
    const decision = this.policy.decide({
      step: 'approval',
      now: this.clock.now(),
      client: { id: request.client.id },
      resource: resourceFacts(request.resource),
      device,
      scopes: authorization.scopes,
      user: { id: user.id, groups: user.groups },
      signIn: {
        method: signIn.method,
        at: signIn.at,
        mfa: signIn.mfa,
        phishingResistant: signIn.phishingResistant,
        acr: signIn.acr,
        amr: signIn.amr,
      },
      approver,
      requester: authorization.requester,
      requestedAt: authorization.createdAt,
      ...(authorization.environment !== null ? { environment: authorization.environment } : {}),
    });
    return { decision, device };
  }

  /**
   * Asks policy, then approves (creating the grant, with the scopes and lifetimes policy allows) or, when policy
   * refuses, denies the request so the device gets access_denied. `gone` when the request is no longer pending.
   */
  async approve(request: PendingRequest, user: User, signIn: ApproverSignIn, approver: RequestOrigin): Promise<ApprovalOutcome> {
    const now = this.clock.now();
    const authTime = signIn.at;
    const { authorization } = request;
    const { device, decision } = await this.ask(request, user, signIn, approver);
    if (decision.decision === 'deny') {
      const base = decisionEvent('device.denied', request, user, approver, now, { auth_time: authTime, device_class: device.class });
      const event = this.policy.refusalEvent('approval', decision, base);
      const ok = await this.store.deny(authorization.id, now, user.id, approver, [event]);
      return ok ? { status: 'refused', message: decision.message } : { status: 'gone' };
    }
    const grantId = uuidv7();
    const { grantIdleTtl, grantMaxTtl } = boundLifetimes(lifetimesFor(this.lifetimes, request.client, request.resource), decision);
    const event = decisionEvent('device.approved', request, user, approver, now, {
      grant_expires_at: now + grantMaxTtl,
      grant_idle_ttl: grantIdleTtl,
      auth_time: authTime,
      auth_method: signIn.method,
      device_class: device.class,
      policy: decision.reasons,
    });
    const ok = await this.store.approve(authorization.id, now, approver, {
      id: grantId,
      userId: user.id,
      clientId: request.client.id,
      deviceAuthorizationId: authorization.id,
      scopes: decision.scopes,
      resource: authorization.resource,
      dpopJkt: authorization.dpopJkt,
      deviceJkt: authorization.deviceJkt,
      environment: authorization.environment,
      authTime,
      authentication: { method: signIn.method, mfa: signIn.mfa, phishingResistant: signIn.phishingResistant, acr: signIn.acr, amr: signIn.amr },
      createdAt: now,
      expiresAt: now + grantMaxTtl,
      idleTtl: grantIdleTtl,
    }, [{ ...event, grantId, data: { ...event.data, scopes: decision.scopes } }]);
    return ok ? { status: 'approved', grantId } : { status: 'gone' };
  }

  deny(request: PendingRequest, user: User, approver: RequestOrigin): Promise<boolean> {
    const now = this.clock.now();
    const event = decisionEvent('device.denied', request, user, approver, now, {});
    return this.store.deny(request.authorization.id, now, user.id, approver, [event]);
  }
}

/** The audit event of a person's decision: who decided, from where, on which device's request. */
function decisionEvent(
  type: 'device.approved' | 'device.denied',
  request: PendingRequest,
  user: User,
  approver: RequestOrigin,
  now: number,
  extra: Record<string, unknown>,
): AuditEventInput {
  const { authorization } = request;
  return {
    type,
    at: now,
    userId: user.id,
    clientId: request.client.id,
    deviceAuthorizationId: authorization.id,
    jkt: authorization.dpopJkt,
    parent: { type: 'device_code.requested', deviceAuthorizationId: authorization.id },
    data: {
      approver_ip: approver.ip,
      approver_user_agent: approver.userAgent,
      requester_ip: authorization.requester.ip,
      requester_user_agent: authorization.requester.userAgent,
      same_network: sameNetwork(approver.ip, authorization.requester.ip),
      scopes: authorization.scopes,
      resource: authorization.resource,
      ...extra,
    },
  };
}
