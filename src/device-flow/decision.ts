import { uuidv7 } from '../shared/ids.js';
import type { AuditEventInput } from '../audit/event.js';
import { sameNetwork } from '../verification/network.js';
import type { Client, Resource } from '../clients/client.js';
import type { ClientRegistry } from '../clients/client-registry.js';
import { lifetimesFor, type LifetimeDefaults } from '../grants/lifetime.js';
import type { Clock } from '../shared/clock.js';
import type { User } from '../users/user.js';
import type { DeviceAuthorization, DeviceAuthorizationStore, RequestContext } from './device-authorization.js';

/** A pending request as the review screen shows it. */
export interface PendingRequest {
  authorization: DeviceAuthorization;
  client: Client;
  resource: Resource;
}

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

  countLive(): Promise<number> {
    return this.store.countLive(this.clock.now());
  }

  /** False when the request is no longer pending (decided elsewhere, or expired meanwhile). */
  async approve(request: PendingRequest, user: User, authTime: number, approver: RequestContext): Promise<string | undefined> {
    const now = this.clock.now();
    const grantId = uuidv7();
    const { grantIdleTtl, grantMaxTtl } = lifetimesFor(this.lifetimes, request.client, request.resource);
    const event = decisionEvent('device.approved', request, user, approver, now, {
      grant_expires_at: now + grantMaxTtl,
      grant_idle_ttl: grantIdleTtl,
      auth_time: authTime,
    });
    const ok = await this.store.approve(request.authorization.id, now, approver, {
      id: grantId,
      userId: user.id,
      clientId: request.client.id,
      deviceAuthorizationId: request.authorization.id,
      scopes: request.authorization.scopes,
      resource: request.authorization.resource,
      dpopJkt: request.authorization.dpopJkt,
      authTime,
      createdAt: now,
      expiresAt: now + grantMaxTtl,
      idleTtl: grantIdleTtl,
    }, [{ ...event, grantId }]);
    return ok ? grantId : undefined;
  }

  deny(request: PendingRequest, user: User, approver: RequestContext): Promise<boolean> {
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
  approver: RequestContext,
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
