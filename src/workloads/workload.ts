import type { AuditEventInput } from '../audit/event.js';

/**
 * A workload: a non-human identity (a CI job, a service) owned by a person. It never holds a shared secret: it
 * proves itself either with a JWT from a trusted external issuer (federation) or by signing with a key whose
 * public half alone was registered (key-bound). It is created from its owner's DPoP-bound login, so its provenance
 * leads back to an approval, and it expires, can be suspended, and is suspended with its owner.
 */
export interface Workload {
  id: string;
  name: string;
  /** The person who owns it (a user id of the directory). */
  ownerId: string;
  purpose: string;
  /** The audience URIs it may get tokens for. */
  resources: string[];
  /** The scopes it may get, on any of its resources. */
  scopes: string[];
  proof: WorkloadProof;
  createdAt: number;
  /** Required: a workload always ends. */
  expiresAt: number;
  lastUsedAt: number | null;
  status: WorkloadStatus;
  statusChangedAt: number;
  /** Its tokens issued at or before this are dead: the last suspend, rotate-key, delete or offboarding. */
  tokensRevokedBefore: number | null;
  /** Where it came from: the grant (`sid`) of the login that created it, and that grant's device key. */
  provenance: WorkloadProvenance;
}

export type WorkloadStatus = 'active' | 'suspended' | 'expired' | 'deleted';

/**
 * How a workload proves itself.
 * - `federated`: a JWT from `issuer` (one of `federation.issuers`) with this `sub` and every listed claim equal.
 * - `key`: an RFC 7523 assertion signed by the registered public key (`jkt` is its RFC 7638 thumbprint).
 */
export type WorkloadProof =
  | { method: 'federated'; issuer: string; subject: string; claims: Record<string, string> }
  | { method: 'key'; publicJwk: Record<string, unknown>; jkt: string };

export interface WorkloadProvenance {
  grantId: string;
  /** The device key of the creating login. */
  jkt: string | null;
  deviceClass: string;
  clientId: string;
}

/** The `sub` (and `client_id`) of a workload's access tokens: RFC 9068 §2.2 for tokens with no person. */
export const WORKLOAD_SUBJECT_PREFIX = 'workload:';

export function workloadSubject(id: string): string {
  return `${WORKLOAD_SUBJECT_PREFIX}${id}`;
}

/** The workload id a `sub` names, or undefined when it names a person. */
export function workloadIdOf(sub: string): string | undefined {
  return sub.startsWith(WORKLOAD_SUBJECT_PREFIX) ? sub.slice(WORKLOAD_SUBJECT_PREFIX.length) : undefined;
}

/** Its status at `now`: an active workload past its expiry is expired, whatever the row says. */
export function effectiveStatus(w: Pick<Workload, 'status' | 'expiresAt'>, now: number): WorkloadStatus {
  return w.status === 'active' && w.expiresAt <= now ? 'expired' : w.status;
}

/** Whether a token of this workload issued at `iat` still stands at `now` (what the server's own checks ask). */
export function workloadTokenStands(w: Workload, iat: number, now: number): boolean {
  return effectiveStatus(w, now) === 'active' && (w.tokensRevokedBefore === null || iat > w.tokensRevokedBefore);
}

/** The lifecycle transitions a person (or offboarding) may make. */
export type WorkloadChange = 'suspend' | 'resume' | 'delete' | 'rotate-key';

/**
 * The workload store, as the domain needs it. Every change takes the audit events that record it and writes them
 * in the same transaction.
 */
export interface WorkloadStore {
  create(workload: Workload, events: AuditEventInput[]): Promise<void>;
  find(id: string): Promise<Workload | undefined>;
  findByName(ownerId: string, name: string): Promise<Workload | undefined>;
  /** Not deleted; owner's only when `ownerId` is given. */
  list(ownerId?: string): Promise<Workload[]>;
  /** Active federated workloads trusting this issuer and subject. */
  findFederated(issuer: string, subject: string): Promise<Workload[]>;
  /**
   * Sets the status (and, for rotate-key, the new proof) if the current status is one of `from`; false otherwise
   * (a concurrent change won).
   */
  update(
    id: string,
    change: { from: readonly WorkloadStatus[]; status: WorkloadStatus; proof?: WorkloadProof; at: number; revokeTokens: boolean },
    events: AuditEventInput[],
  ): Promise<boolean>;
  /** Suspends every active workload of `ownerId`; returns them (as they were). */
  suspendOwned(ownerId: string, at: number, describe: (w: Workload) => AuditEventInput[]): Promise<Workload[]>;
  /**
   * Records one exchange in one transaction: claims the presented token's `jti` (by hash, kept until `expiresAt`),
   * appends the audit events and sets the last use. False, with nothing written, when the jti was already claimed
   * and has not expired: a replay.
   */
  recordExchange(exchange: { jtiHash: string; expiresAt: number; workloadId: string; at: number }, events: AuditEventInput[]): Promise<boolean>;
  /** Forgets the jti hashes of tokens that have expired (they are refused before their jti is looked at). */
  deleteExpiredJtis(now: number): Promise<number>;
}
