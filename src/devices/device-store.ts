import type { AuditEventInput } from '../audit/event.js';
import type { DeviceRecord, DeviceRegistry, TrustedClass } from '../policy/device-trust.js';
import type { DeviceClass } from '../policy/types.js';

/** The audit events that record a change to a device, given the record as the change left it. */
export type DeviceEvents = (record: DeviceRecord) => AuditEventInput[];

/**
 * The device registry as the server uses it: the policy module's {@link DeviceRegistry} port, with each change
 * committed together with the audit events that record it, plus what the cache and the enrollment limit need.
 * Implemented by the storage layer.
 */
export interface DeviceStore extends DeviceRegistry {
  enroll(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }, events?: DeviceEvents): Promise<DeviceRecord>;
  approve(jkt: string, decision: { by: string; now: number; class?: DeviceClass }, events?: DeviceEvents): Promise<DeviceRecord | undefined>;
  revoke(jkt: string, decision: { by: string; now: number }, events?: DeviceEvents): Promise<DeviceRecord | undefined>;
  /** Every approved key with its class: what the in-memory cache holds. */
  approvedClasses(): Promise<Map<string, TrustedClass>>;
  /** How many enrollments wait for an administrator. */
  countPending(): Promise<number>;
}

/** The trust a record confers, if any. */
export function trustOf(record: DeviceRecord): TrustedClass | undefined {
  return record.status === 'approved' && record.class && record.trust ? { class: record.class, trust: record.trust } : undefined;
}
