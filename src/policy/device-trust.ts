import { DEVICE_CLASSES, type DeviceClass, type DeviceFacts } from './types.js';

/**
 * Device trust. A machine is known by its DPoP key thumbprint (`jkt`). It is **unmanaged** until its key is
 * enrolled and then either approved by an administrator (`tether admin devices approve`) or vouched for by a
 * configured attestation; only then does the registry's class (managed workstation, jump host, automation) count.
 * What a device *declares* about itself is believed only when it makes the device less trusted: a CLI saying "I am
 * running in CI" is taken at its word, a CLI saying "I am managed" is not.
 */

/** Who vouched for a device key. */
export type DeviceTrustSource = 'admin' | 'attestation';

/** One enrolled key, as the registry keeps it. */
export interface DeviceRecord {
  jkt: string;
  /** A name a person recognises ("alice-laptop", "build-runner-3"). */
  name: string;
  /** What the enrollment asked to be classed as; an approver may choose otherwise. */
  requestedClass: DeviceClass;
  status: 'pending' | 'approved' | 'revoked';
  /** The class in force once approved. */
  class: DeviceClass | null;
  trust: DeviceTrustSource | null;
  /** The admin's name or the attestation verifier's name. */
  decidedBy: string | null;
  enrolledAt: number;
  decidedAt: number | null;
}

/** What a device's trust amounts to for policy. */
export interface TrustedClass {
  class: DeviceClass;
  trust: DeviceTrustSource;
}

/** A key's enrollment as it starts: pending, trusted by nobody yet. Every registry records it this way. */
export function pendingDeviceRecord(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }): DeviceRecord {
  return {
    jkt: request.jkt,
    name: request.name,
    requestedClass: request.requestedClass,
    status: 'pending',
    class: null,
    trust: null,
    decidedBy: null,
    enrolledAt: request.now,
    decidedAt: null,
  };
}

/**
 * Where enrolled device keys live: a port the storage layer implements (an in-memory one is below, for tests and
 * the dev tenant).
 */
export interface DeviceRegistry {
  /** The class of an approved key; undefined for unknown, pending or revoked keys (all of which are unmanaged). */
  classOf(jkt: string): Promise<TrustedClass | undefined>;
  get(jkt: string): Promise<DeviceRecord | undefined>;
  list(): Promise<DeviceRecord[]>;
  /** Records a key waiting for approval; enrolling an approved key again changes nothing. */
  enroll(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }): Promise<DeviceRecord>;
  /** An administrator approves a pending (or revoked) key, as `class` or else as it asked; undefined if unknown. */
  approve(jkt: string, decision: { by: string; now: number; class?: DeviceClass }): Promise<DeviceRecord | undefined>;
  /** A configured attestation vouched for the key: it is approved at once as the attested class. */
  attest(jkt: string, evidence: { verifier: string; class: DeviceClass; name: string; now: number }): Promise<DeviceRecord>;
  /** Takes trust away; the key is unmanaged again. Undefined if unknown. */
  revoke(jkt: string, decision: { by: string; now: number }): Promise<DeviceRecord | undefined>;
}

/**
 * Checks evidence a device presents about itself (a platform attestation, a CI provider's OIDC token...) and, when
 * it vouches for the key, says as what. A port: each configured attestation implements it.
 */
export interface DeviceAttestationVerifier {
  readonly name: string;
  verify(evidence: string, jkt: string): Promise<DeviceClass | undefined>;
}

/** How far a class is from trusted: the more restrictive of two claims about a device wins. */
const RESTRICTION: Record<DeviceClass, number> = { managed: 0, unmanaged: 1, jump_host: 2, automation: 3 };

/** A declared environment if it names a class, else undefined (free text is passed to policy as is). */
export function declaredClass(environment: string | undefined): DeviceClass | undefined {
  return DEVICE_CLASSES.find((c) => c === environment?.trim().toLowerCase());
}

/**
 * The device facts policy decides with. `registered` is the registry's answer for the key (undefined when there is
 * no key or it is not approved); `environment` is what the device declared.
 */
export function describeDevice(jkt: string | null, registered: TrustedClass | undefined, environment?: string): DeviceFacts {
  const trusted: DeviceClass = jkt !== null && registered ? registered.class : 'unmanaged';
  const declared = declaredClass(environment);
  // A declaration may only lower trust: "managed" from the device itself would be an unverified promotion.
  const cls = declared !== undefined && RESTRICTION[declared] > RESTRICTION[trusted] ? declared : trusted;
  return { jkt, class: cls, enrolled: jkt !== null && registered !== undefined };
}

/** Looks the key up and describes the device: what the server calls at each step of the flow. */
export async function deviceFacts(registry: DeviceRegistry, jkt: string | null, environment?: string): Promise<DeviceFacts> {
  const registered = jkt === null ? undefined : await registry.classOf(jkt);
  return describeDevice(jkt, registered, environment);
}

/**
 * The claims that carry the device's trust in an access token, so the guard can decide without the registry.
 * `device_jkt` names the device key (the machine's long-lived key when a device statement vouched for the login,
 * else the token's own key), so a revocation statement by that key reaches every token it vouched for.
 */
export interface DeviceClaims {
  device_class: DeviceClass;
  device_enrolled: boolean;
  device_jkt?: string;
}

/** What to stamp into an access token for this device. */
export function deviceClaims(device: DeviceFacts): DeviceClaims {
  return { device_class: device.class, device_enrolled: device.enrolled, ...(device.jkt !== null ? { device_jkt: device.jkt } : {}) };
}

/**
 * The device as an access token describes it (`device_jkt` or else `cnf.jkt`, `device_class`, `device_enrolled`),
 * for the API step. A token without the claims (minted before they existed, or by another issuer) counts as
 * unmanaged.
 */
export function deviceFromClaims(claims: Readonly<Record<string, unknown>>): DeviceFacts {
  const cnf = claims['cnf'];
  const bound = typeof cnf === 'object' && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === 'string' ? (cnf as { jkt: string }).jkt : null;
  // The device key only counts on a bound token: a Bearer token names no key its holder proves.
  const jkt = bound !== null && typeof claims['device_jkt'] === 'string' ? claims['device_jkt'] : bound;
  const cls = DEVICE_CLASSES.find((c) => c === claims['device_class']) ?? 'unmanaged';
  return { jkt, class: cls, enrolled: jkt !== null && claims['device_enrolled'] === true };
}

/** A {@link DeviceRegistry} in memory, for tests and the dev tenant. */
export class InMemoryDeviceRegistry implements DeviceRegistry {
  private readonly records = new Map<string, DeviceRecord>();

  async classOf(jkt: string): Promise<TrustedClass | undefined> {
    const r = this.records.get(jkt);
    return r?.status === 'approved' && r.class && r.trust ? { class: r.class, trust: r.trust } : undefined;
  }

  async get(jkt: string): Promise<DeviceRecord | undefined> {
    const r = this.records.get(jkt);
    return r ? { ...r } : undefined;
  }

  async list(): Promise<DeviceRecord[]> {
    return [...this.records.values()].map((r) => ({ ...r }));
  }

  async enroll(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }): Promise<DeviceRecord> {
    const existing = this.records.get(request.jkt);
    if (existing?.status === 'approved') return { ...existing };
    const record = pendingDeviceRecord(request);
    this.records.set(request.jkt, record);
    return { ...record };
  }

  async approve(jkt: string, decision: { by: string; now: number; class?: DeviceClass }): Promise<DeviceRecord | undefined> {
    const r = this.records.get(jkt);
    if (!r) return undefined;
    Object.assign(r, {
      status: 'approved',
      class: decision.class ?? r.requestedClass,
      trust: 'admin',
      decidedBy: decision.by,
      decidedAt: decision.now,
    } satisfies Partial<DeviceRecord>);
    return { ...r };
  }

  async attest(jkt: string, evidence: { verifier: string; class: DeviceClass; name: string; now: number }): Promise<DeviceRecord> {
    const record: DeviceRecord = {
      jkt,
      name: this.records.get(jkt)?.name ?? evidence.name,
      requestedClass: evidence.class,
      status: 'approved',
      class: evidence.class,
      trust: 'attestation',
      decidedBy: evidence.verifier,
      enrolledAt: this.records.get(jkt)?.enrolledAt ?? evidence.now,
      decidedAt: evidence.now,
    };
    this.records.set(jkt, record);
    return { ...record };
  }

  async revoke(jkt: string, decision: { by: string; now: number }): Promise<DeviceRecord | undefined> {
    const r = this.records.get(jkt);
    if (!r) return undefined;
    Object.assign(r, { status: 'revoked', class: null, trust: null, decidedBy: decision.by, decidedAt: decision.now } satisfies Partial<DeviceRecord>);
    return { ...r };
  }
}
