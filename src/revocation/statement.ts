import type { AuditEventInput } from '../audit/event.js';

/**
 * A revocation is a small statement, not a list of token ids: "every token of this grant / user / device key /
 * client (or every device-flow token) issued at or before `issuedBefore` is dead". One statement ends any number
 * of tokens; the audit records it and the event stream carries it to every guard.
 */
export type RevocationKind = 'grant' | 'user' | 'jkt' | 'client' | 'all' | WorkloadRevocationKind;

/**
 * Workload statements (issue 13), in the same shape: "every token of this workload / of every workload this person
 * owns, issued at or before T, is dead". They end no grant: a workload's tokens name no person's grant.
 */
export type WorkloadRevocationKind = 'workload' | 'owner';

/** Which path asked for the revocation. */
export type RevocationPath = 'token_revocation' | 'admin_api' | 'refresh_token_reuse' | 'offboarding' | 'workload_lifecycle';

export interface RevocationStatement {
  id: string;
  /** Position in the revocation stream, assigned when stored; guards resume from it. */
  seq?: number;
  kind: RevocationKind;
  /** The grant id, user id, key thumbprint, client id, workload id or owner's user id; null for `all`. */
  value: string | null;
  /** The cut in seconds (what the grant query and older guards read); `issuedBeforeMs` is the exact one. */
  issuedBefore: number;
  /**
   * The cut to the millisecond: tokens with an issue stamp (`iat_ms`) at or before it are dead, those after it
   * live. Stamps are unique (`stampMs`), so no token is both. Set by the store inside the revocation's
   * transaction; statements from before this field cut at the end of their second.
   */
  issuedBeforeMs: number;
  createdAt: number;
  /** Who revoked: a client id, an admin key's label, or `tether` for automatic revocation. */
  actor: string;
  reason: string;
  via: RevocationPath;
  /**
   * Only the tokens issued so far are dead, not the grants: what taking a device's trust away means (its next
   * refresh is decided by policy for an unmanaged device). Not stored: guards need only the cut.
   */
  tokensOnly?: boolean;
}

/** A grant a revocation ended, as its audit event names it. */
export interface RevokedGrant {
  id: string;
  userId: string;
  clientId: string;
  jkt: string | null;
}

export interface RevocationStore {
  /**
   * Ends every active grant the statement covers, revokes their refresh tokens and records the statement, in one
   * transaction with the audit events `describe` makes of them. Returns the ids of the grants it ended.
   */
  applyRevocation(
    statement: RevocationStatement,
    describe: (grants: RevokedGrant[]) => AuditEventInput[],
    /**
     * Called first inside the transaction for the statement's cut (milliseconds). Taking it there, not before,
     * means a token whose grant check ran before the transaction was stamped earlier, and one stamped later sees
     * the grant revoked: the cut splits tokens exactly as the grant status does.
     */
    cut?: () => number,
  ): Promise<string[]>;
  listRevocations(since: number): Promise<(RevocationStatement & { grantsRevoked: number })[]>;
  /** Statements after stream position `seq`, oldest first. */
  revocationsAfter(seq: number, limit: number): Promise<RevocationStatement[]>;
}
