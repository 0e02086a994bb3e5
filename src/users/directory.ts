import type { AuditEventInput } from '../audit/event.js';

/**
 * Where a person's record came from: the configuration's local accounts, a SCIM client (Okta, Entra ID), or later
 * an upstream OpenID Connect provider that provisions just in time.
 */
export type UserSource = 'local' | 'scim' | `upstream:${string}`;

export interface DirectoryEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

/** A group a person is a member of, by its directory id and the name policy reads. */
export interface GroupMembership {
  id: string;
  displayName: string;
}

/**
 * A person in the stored directory. `id` is stable and is what `sub` carries; `userName` is canonical
 * (`canonicalUserId`). `version` grows with every change and makes the SCIM ETag.
 */
export interface DirectoryUser {
  id: string;
  userName: string;
  displayName: string;
  emails: readonly DirectoryEmail[];
  externalId: string | null;
  /**
   * Groups the record's source asserts: the configuration's for a local account, the provider's claims for one
   * provisioned just in time. Empty once the directory (SCIM) manages the person: then its groups are memberships.
   */
  sourceGroups: readonly string[];
  /** Directory groups the person is a member of. */
  memberOf: readonly GroupMembership[];
  active: boolean;
  source: UserSource;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What a write sets on a person; the store keeps id, source, version and times. */
export interface UserFields {
  userName: string;
  displayName: string;
  emails: readonly DirectoryEmail[];
  externalId: string | null;
  active: boolean;
  sourceGroups: readonly string[];
}

export interface DirectoryGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  /** Member user ids, with their user names for display. */
  members: readonly { id: string; userName: string }[];
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface GroupFields {
  displayName: string;
  externalId: string | null;
  memberIds: readonly string[];
}

/** Equality filters the directory can answer (the SCIM filters Okta and Entra ID send). */
export type UserFilter = { attribute: 'userName' | 'externalId' | 'id'; value: string };
export type GroupFilter = { attribute: 'displayName' | 'externalId' | 'id'; value: string };

export interface Page {
  /** Zero-based. */
  offset: number;
  limit: number;
}

/** Why a write did not happen. */
export type WriteFailure = 'missing' | 'version_mismatch' | 'conflict' | 'unknown_member';

export type WriteResult<T> = { ok: true; before: T | undefined; after: T } | { ok: false; reason: WriteFailure };

/** A local account from the configuration, as the directory seeds it. */
export interface LocalAccountSeed {
  id: string;
  userName: string;
  displayName: string;
  groups: readonly string[];
}

/**
 * The stored directory, as the domain needs it. Every write takes the audit events that record it and commits
 * them in the same transaction; a write with `expectedVersion` happens only if the record is still at it.
 */
export interface DirectoryStore {
  findUser(id: string): Promise<DirectoryUser | undefined>;
  findUserByName(userName: string): Promise<DirectoryUser | undefined>;
  listUsers(filter: UserFilter | undefined, page: Page): Promise<{ total: number; users: DirectoryUser[] }>;
  /**
   * Creates a person; a taken name is a conflict. A deleted person's name is taken too, unless `replaceDeleted`
   * (the directory creating that name again): a sign-in elsewhere must not bring back whom the directory deleted.
   */
  createUser(
    fields: UserFields,
    source: UserSource,
    now: number,
    events: (user: DirectoryUser) => AuditEventInput[],
    options?: { replaceDeleted?: boolean },
  ): Promise<WriteResult<DirectoryUser>>;
  updateUser(
    id: string,
    update: (current: DirectoryUser) => { fields: UserFields; source: UserSource },
    expectedVersion: number | undefined,
    now: number,
    events: (before: DirectoryUser, after: DirectoryUser) => AuditEventInput[],
  ): Promise<WriteResult<DirectoryUser>>;
  /** Deletes the person and their memberships; their name is kept as a marker so the configuration cannot bring them back. */
  deleteUser(id: string, expectedVersion: number | undefined, now: number, events: (user: DirectoryUser) => AuditEventInput[]): Promise<WriteResult<DirectoryUser>>;

  findGroup(id: string): Promise<DirectoryGroup | undefined>;
  listGroups(filter: GroupFilter | undefined, page: Page): Promise<{ total: number; groups: DirectoryGroup[] }>;
  createGroup(fields: GroupFields, now: number, events: (group: DirectoryGroup) => AuditEventInput[]): Promise<WriteResult<DirectoryGroup>>;
  updateGroup(
    id: string,
    update: (current: DirectoryGroup) => GroupFields,
    expectedVersion: number | undefined,
    now: number,
    events: (before: DirectoryGroup, after: DirectoryGroup) => AuditEventInput[],
  ): Promise<WriteResult<DirectoryGroup>>;
  deleteGroup(id: string, expectedVersion: number | undefined, now: number, events: (group: DirectoryGroup) => AuditEventInput[]): Promise<WriteResult<DirectoryGroup>>;

  /**
   * Adds the configuration's local accounts the directory does not hold yet (nor deleted), and refreshes the names
   * and groups of those still `local`. A record the directory took over (`scim`) keeps what the directory says.
   */
  seedLocalAccounts(accounts: readonly LocalAccountSeed[], now: number): Promise<void>;
}

/** The group names policy and tokens see: the configured ones and the directory's, once each. */
export function groupNames(user: Pick<DirectoryUser, 'sourceGroups' | 'memberOf'>): string[] {
  return [...new Set([...user.sourceGroups, ...user.memberOf.map((g) => g.displayName)])];
}
