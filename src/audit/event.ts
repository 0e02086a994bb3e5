/**
 * Audit events: one for every step of a login's life, each tying it to the person, device, client and grant.
 * No secret ever appears: codes and tokens are named only by hash or jti.
 */
export type AuditEventType =
  | 'device_code.requested'
  | 'user_code.entered'
  | 'user_code.rejected'
  | 'user.signed_in'
  | 'user.sign_in_failed'
  | 'passkey.registered'
  | 'passkey.removed'
  /** Many failed codes or passwords across the server: an alarm for operators, never a refusal. */
  | 'verification.failure_alarm'
  | 'device.approved'
  | 'device.denied'
  | 'device_code.abandoned'
  | 'token.issued'
  | 'token.refreshed'
  | 'refresh_token.reuse_detected'
  | 'grant.revoked'
  | 'token.introspected'
  | 'policy.denied'
  | 'device.enrolled'
  | 'admin.action'
  | 'directory.changed'
  | 'user.offboarded'
  // Workload identity (docs/workloads.md): each carries the workload id in data.workload; userId is the owner,
  // grantId the grant of the login that created it, so a trace leads back to the person's approval.
  | 'workload.created'
  | 'workload.suspended'
  | 'workload.resumed'
  | 'workload.deleted'
  | 'workload.key_rotated'
  | 'workload.token_issued'
  | 'workload.exchange_refused'
  // A person's token exchanged for a narrower one for a tool or agent (RFC 8693 act).
  | 'token.delegated';

/**
 * The only events another event may name as its parent. Kept closed on purpose: the parent lookup of every append
 * runs on an index that holds just these types by grant (migration 0009-audit-append-indexes; a device request,
 * the one parent found by device authorization, has an index of its own), so the events that pile up on a grant
 * (refreshes, introspections) never enter it. A new parent type needs a new index migration too;
 * test/storage/audit-lookups.test.ts checks that every type here is looked up on an index.
 */
export const PARENT_EVENT_TYPES = ['device_code.requested', 'device.approved', 'token.issued', 'workload.created'] as const;

export type ParentEventType = (typeof PARENT_EVENT_TYPES)[number];

/** Which earlier event this one descends from, found inside the same transaction. */
export interface ParentRef {
  type: ParentEventType;
  grantId?: string;
  deviceAuthorizationId?: string;
  /** For refresh chains: the jti whose issuance this event follows. */
  jti?: string;
}

/** What a step records; the log adds sequence, time, id and the hash chain. */
export interface AuditEventInput {
  type: AuditEventType;
  at: number;
  userId?: string | null;
  clientId?: string | null;
  grantId?: string | null;
  deviceAuthorizationId?: string | null;
  jti?: string | null;
  jkt?: string | null;
  parent?: ParentRef;
  /** Context: addresses, user agents, scopes, resource, TTLs, reasons, actors. Never a secret. */
  data: Record<string, unknown>;
}

export interface AuditEvent extends Omit<AuditEventInput, 'parent'> {
  seq: number;
  id: string;
  parentId: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  userId?: string;
  clientId?: string;
  grantId?: string;
  deviceAuthorizationId?: string;
  jti?: string;
  type?: AuditEventType;
  since?: number;
  afterSeq?: number;
  limit?: number;
}

/** The audit store, as the domain needs it. Events of state changes are written by the stores themselves. */
export interface AuditLog {
  /** Records events that come with no state change of their own (a wrong code, a refused sign-in). */
  record(events: AuditEventInput[]): Promise<void>;
  query(query: AuditQuery): Promise<AuditEvent[]>;
}
