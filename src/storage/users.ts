import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AuditEventInput } from '../audit/event.js';
import { uuidv7 } from '../shared/ids.js';
import { canonicalUserId } from '../users/canonical-id.js';
import type {
  DirectoryEmail,
  DirectoryGroup,
  DirectoryStore,
  DirectoryUser,
  GroupFields,
  GroupFilter,
  LocalAccountSeed,
  Page,
  UserFields,
  UserFilter,
  UserSource,
  WriteResult,
} from '../users/directory.js';
import { appendAuditEvents } from './audit-log.js';
import type { Database, DirectoryGroupTable, DirectoryUserTable } from './schema.js';

type Tx = Transaction<Database> | Kysely<Database>;

const USER_COLUMN = { userName: 'user_name', externalId: 'external_id', id: 'id' } as const;
const GROUP_COLUMN = { externalId: 'external_id', id: 'id' } as const;

/**
 * The stored directory on Kysely, dialect-neutral: no upserts or RETURNING, flags as 0/1, lists as JSON text.
 * A versioned write is one `UPDATE … WHERE version = ?` inside a transaction with its audit events, so two
 * concurrent writers cannot both succeed from the same version.
 */
export class SqlDirectoryStore implements DirectoryStore {
  constructor(private readonly db: Kysely<Database>) {}

  findUser(id: string): Promise<DirectoryUser | undefined> {
    return readUser(this.db, 'id', id);
  }

  findUserByName(userName: string): Promise<DirectoryUser | undefined> {
    return readUser(this.db, 'user_name', canonicalUserId(userName));
  }

  async listUsers(filter: UserFilter | undefined, page: Page) {
    let query = this.db.selectFrom('directory_users').where('deleted_at', 'is', null);
    if (filter) {
      const value = filter.attribute === 'userName' ? canonicalUserId(filter.value) : filter.value;
      query = query.where(USER_COLUMN[filter.attribute], '=', value);
    }
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('created_at').orderBy('id').offset(page.offset).limit(page.limit).execute();
    return { total: Number(count?.n ?? 0), users: await withMemberships(this.db, rows) };
  }

  async createUser(
    fields: UserFields,
    source: UserSource,
    now: number,
    events: (user: DirectoryUser) => AuditEventInput[],
    options: { replaceDeleted?: boolean } = {},
  ): Promise<WriteResult<DirectoryUser>> {
    return conflictAsResult(() => this.db.transaction().execute(async (tx): Promise<WriteResult<DirectoryUser>> => {
      const userName = canonicalUserId(fields.userName);
      const existing = await tx.selectFrom('directory_users').select(['id', 'deleted_at']).where('user_name', '=', userName).executeTakeFirst();
      if (existing && (existing.deleted_at === null || !options.replaceDeleted)) return { ok: false, reason: 'conflict' };
      // A deleted local account's marker gives way to a person the directory creates again under that name.
      if (existing) await tx.deleteFrom('directory_users').where('id', '=', existing.id).execute();
      const row: DirectoryUserTable = { ...userRow(fields), id: uuidv7(), source, version: 1, created_at: now, updated_at: now, deleted_at: null };
      await tx.insertInto('directory_users').values(row).execute();
      const user = userFromRow(row, []);
      await appendAuditEvents(tx, events(user));
      return { ok: true, before: undefined, after: user };
    }));
  }

  async updateUser(
    id: string,
    update: (current: DirectoryUser) => { fields: UserFields; source: UserSource },
    expectedVersion: number | undefined,
    now: number,
    events: (before: DirectoryUser, after: DirectoryUser) => AuditEventInput[],
  ): Promise<WriteResult<DirectoryUser>> {
    return conflictAsResult(() => this.db.transaction().execute(async (tx): Promise<WriteResult<DirectoryUser>> => {
      const before = await readUser(tx, 'id', id);
      if (!before) return { ok: false, reason: 'missing' };
      if (expectedVersion !== undefined && before.version !== expectedVersion) return { ok: false, reason: 'version_mismatch' };
      const { fields, source } = update(before);
      const userName = canonicalUserId(fields.userName);
      if (userName !== before.userName) {
        const clash = await tx.selectFrom('directory_users').select('id').where('user_name', '=', userName).executeTakeFirst();
        if (clash) return { ok: false, reason: 'conflict' };
      }
      const changed = await tx
        .updateTable('directory_users')
        .set({ ...userRow(fields), source, version: before.version + 1, updated_at: now })
        .where('id', '=', id)
        .where('version', '=', before.version)
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) !== 1) return { ok: false, reason: 'version_mismatch' };
      const after = await readUser(tx, 'id', id);
      if (!after) return { ok: false, reason: 'missing' };
      await appendAuditEvents(tx, events(before, after));
      return { ok: true, before, after };
    }));
  }

  async deleteUser(id: string, expectedVersion: number | undefined, now: number, events: (user: DirectoryUser) => AuditEventInput[]): Promise<WriteResult<DirectoryUser>> {
    return this.db.transaction().execute(async (tx) => {
      const before = await readUser(tx, 'id', id);
      if (!before) return { ok: false, reason: 'missing' };
      if (expectedVersion !== undefined && before.version !== expectedVersion) return { ok: false, reason: 'version_mismatch' };
      const groups = before.memberOf.map((g) => g.id);
      await tx.deleteFrom('directory_group_members').where('user_id', '=', id).execute();
      if (groups.length > 0) await bumpGroups(tx, groups, now);
      // Kept as a marker (inactive, hidden, its name only) so that no later start seeds a configured account of that
      // name again: deleting a person in the directory must not be undone by a restart.
      await tx
        .updateTable('directory_users')
        .set({ active: 0, deleted_at: now, updated_at: now, version: before.version + 1, display_name: '', emails: '[]', external_id: null, source_groups: '[]' })
        .where('id', '=', id)
        .execute();
      await appendAuditEvents(tx, events(before));
      return { ok: true, before, after: before };
    });
  }

  findGroup(id: string): Promise<DirectoryGroup | undefined> {
    return readGroup(this.db, id);
  }

  async listGroups(filter: GroupFilter | undefined, page: Page) {
    let query = this.db.selectFrom('directory_groups');
    if (filter?.attribute === 'displayName') {
      // RFC 7643 §4.2: a group's displayName is not case-exact.
      query = query.where('display_name_key', '=', groupKey(filter.value));
    } else if (filter) {
      query = query.where(GROUP_COLUMN[filter.attribute], '=', filter.value);
    }
    const count = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('created_at').orderBy('id').offset(page.offset).limit(page.limit).execute();
    const groups: DirectoryGroup[] = [];
    for (const row of rows) groups.push(groupFromRow(row, await membersOf(this.db, row.id)));
    return { total: Number(count?.n ?? 0), groups };
  }

  async createGroup(fields: GroupFields, now: number, events: (group: DirectoryGroup) => AuditEventInput[]): Promise<WriteResult<DirectoryGroup>> {
    return conflictAsResult(() => this.db.transaction().execute(async (tx): Promise<WriteResult<DirectoryGroup>> => {
      if (await groupNameTaken(tx, fields.displayName, undefined)) return { ok: false, reason: 'conflict' };
      if (!(await allUsersExist(tx, fields.memberIds))) return { ok: false, reason: 'unknown_member' };
      const row: DirectoryGroupTable = {
        id: uuidv7(),
        display_name: fields.displayName,
        display_name_key: groupKey(fields.displayName),
        external_id: fields.externalId,
        version: 1,
        created_at: now,
        updated_at: now,
      };
      await tx.insertInto('directory_groups').values(row).execute();
      await setMembers(tx, row.id, [], fields.memberIds, now);
      const group = await readGroup(tx, row.id);
      if (!group) return { ok: false, reason: 'missing' };
      await appendAuditEvents(tx, events(group));
      return { ok: true, before: undefined, after: group };
    }));
  }

  async updateGroup(
    id: string,
    update: (current: DirectoryGroup) => GroupFields,
    expectedVersion: number | undefined,
    now: number,
    events: (before: DirectoryGroup, after: DirectoryGroup) => AuditEventInput[],
  ): Promise<WriteResult<DirectoryGroup>> {
    return conflictAsResult(() => this.db.transaction().execute(async (tx): Promise<WriteResult<DirectoryGroup>> => {
      const before = await readGroup(tx, id);
      if (!before) return { ok: false, reason: 'missing' };
      if (expectedVersion !== undefined && before.version !== expectedVersion) return { ok: false, reason: 'version_mismatch' };
      const fields = update(before);
      if (await groupNameTaken(tx, fields.displayName, id)) return { ok: false, reason: 'conflict' };
      if (!(await allUsersExist(tx, fields.memberIds))) return { ok: false, reason: 'unknown_member' };
      const changed = await tx
        .updateTable('directory_groups')
        .set({ display_name: fields.displayName, display_name_key: groupKey(fields.displayName), external_id: fields.externalId, version: before.version + 1, updated_at: now })
        .where('id', '=', id)
        .where('version', '=', before.version)
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) !== 1) return { ok: false, reason: 'version_mismatch' };
      const previous = before.members.map((m) => m.id);
      await setMembers(tx, id, previous, fields.memberIds, now);
      // A renamed group changes what each member's `groups` says.
      if (fields.displayName !== before.displayName) await bumpUsers(tx, previous.filter((m) => fields.memberIds.includes(m)), now);
      const after = await readGroup(tx, id);
      if (!after) return { ok: false, reason: 'missing' };
      await appendAuditEvents(tx, events(before, after));
      return { ok: true, before, after };
    }));
  }

  async deleteGroup(id: string, expectedVersion: number | undefined, now: number, events: (group: DirectoryGroup) => AuditEventInput[]): Promise<WriteResult<DirectoryGroup>> {
    return this.db.transaction().execute(async (tx) => {
      const before = await readGroup(tx, id);
      if (!before) return { ok: false, reason: 'missing' };
      if (expectedVersion !== undefined && before.version !== expectedVersion) return { ok: false, reason: 'version_mismatch' };
      await setMembers(tx, id, before.members.map((m) => m.id), [], now);
      await tx.deleteFrom('directory_groups').where('id', '=', id).execute();
      await appendAuditEvents(tx, events(before));
      return { ok: true, before, after: before };
    });
  }

  async seedLocalAccounts(accounts: readonly LocalAccountSeed[], now: number): Promise<void> {
    try {
      await this.seedOnce(accounts, now);
    } catch (error) {
      // Another server on the same database seeded the same account first; the second pass sees its row.
      if (!isUniqueViolation(error)) throw error;
      await this.seedOnce(accounts, now);
    }
  }

  private async seedOnce(accounts: readonly LocalAccountSeed[], now: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const account of accounts) {
        const userName = canonicalUserId(account.userName);
        const existing = await tx.selectFrom('directory_users').selectAll().where('user_name', '=', userName).executeTakeFirst();
        if (!existing) {
          const taken = await tx.selectFrom('directory_users').select('id').where('id', '=', account.id).executeTakeFirst();
          if (taken) continue;
          await tx
            .insertInto('directory_users')
            .values({
              ...userRow({ userName, displayName: account.displayName, emails: [], externalId: null, active: true, sourceGroups: account.groups }),
              id: account.id,
              source: 'local',
              version: 1,
              created_at: now,
              updated_at: now,
              deleted_at: null,
            })
            .execute();
          continue;
        }
        if (existing.source !== 'local' || existing.deleted_at !== null) continue;
        const groups = JSON.stringify([...account.groups]);
        if (existing.display_name === account.displayName && existing.source_groups === groups) continue;
        await tx
          .updateTable('directory_users')
          .set({ display_name: account.displayName, source_groups: groups, version: Number(existing.version) + 1, updated_at: now })
          .where('id', '=', existing.id)
          .execute();
      }
    });
  }
}

/**
 * A unique constraint the checks inside the transaction could not see coming (two writers on PostgreSQL racing
 * for one name, or for one membership) is the same answer as the check's: a conflict, not a server error.
 */
async function conflictAsResult<T>(write: () => Promise<WriteResult<T>>): Promise<WriteResult<T>> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) return { ok: false, reason: 'conflict' };
    throw error;
  }
}

/** PostgreSQL's SQLSTATE 23505, or SQLite's constraint codes (better-sqlite3). */
function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = String(error.code);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function userRow(fields: UserFields) {
  return {
    user_name: canonicalUserId(fields.userName),
    display_name: fields.displayName,
    emails: JSON.stringify(fields.emails),
    external_id: fields.externalId,
    source_groups: JSON.stringify([...fields.sourceGroups]),
    active: fields.active ? 1 : 0,
  };
}

async function readUser(db: Tx, column: 'id' | 'user_name', value: string): Promise<DirectoryUser | undefined> {
  const row = await db.selectFrom('directory_users').selectAll().where(column, '=', value).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) return undefined;
  const [user] = await withMemberships(db, [row]);
  return user;
}

async function withMemberships(db: Tx, rows: Selectable<DirectoryUserTable>[]): Promise<DirectoryUser[]> {
  if (rows.length === 0) return [];
  const memberships = await db
    .selectFrom('directory_group_members as m')
    .innerJoin('directory_groups as g', 'g.id', 'm.group_id')
    .select(['m.user_id', 'g.id', 'g.display_name'])
    .where(
      'm.user_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('g.display_name')
    .execute();
  return rows.map((row) =>
    userFromRow(
      row,
      memberships.filter((m) => m.user_id === row.id).map((m) => ({ id: m.id, displayName: m.display_name })),
    ),
  );
}

/** A person from their row and their memberships (ordered by group name). */
export function userFromRow(row: Selectable<DirectoryUserTable>, memberOf: DirectoryUser['memberOf']): DirectoryUser {
  return {
    id: row.id,
    userName: row.user_name,
    displayName: row.display_name,
    emails: parseList<DirectoryEmail>(row.emails),
    externalId: row.external_id,
    sourceGroups: parseList<string>(row.source_groups),
    memberOf,
    active: Number(row.active) === 1,
    source: row.source as UserSource,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function parseList<T>(text: string): T[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? (value as T[]) : [];
}

async function readGroup(db: Tx, id: string): Promise<DirectoryGroup | undefined> {
  const row = await db.selectFrom('directory_groups').selectAll().where('id', '=', id).executeTakeFirst();
  return row && groupFromRow(row, await membersOf(db, id));
}

function membersOf(db: Tx, groupId: string) {
  return db
    .selectFrom('directory_group_members as m')
    .innerJoin('directory_users as u', 'u.id', 'm.user_id')
    .select(['u.id as id', 'u.user_name as userName'])
    .where('m.group_id', '=', groupId)
    .orderBy('u.user_name')
    .execute();
}

function groupFromRow(row: Selectable<DirectoryGroupTable>, members: DirectoryGroup['members']): DirectoryGroup {
  return {
    id: row.id,
    displayName: row.display_name,
    externalId: row.external_id,
    members,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A group name as compared: lowercased here, the same on every dialect. */
function groupKey(displayName: string): string {
  return displayName.trim().toLowerCase();
}

async function groupNameTaken(tx: Tx, displayName: string, except: string | undefined): Promise<boolean> {
  let query = tx.selectFrom('directory_groups').select('id').where('display_name_key', '=', groupKey(displayName));
  if (except) query = query.where('id', '!=', except);
  return (await query.executeTakeFirst()) !== undefined;
}

async function allUsersExist(tx: Tx, ids: readonly string[]): Promise<boolean> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return true;
  const rows = await tx.selectFrom('directory_users').select('id').where('id', 'in', unique).where('deleted_at', 'is', null).execute();
  return rows.length === unique.length;
}

/** Moves a group from `previous` to `next` members; everyone who joined or left gets a new version (their ETag). */
async function setMembers(tx: Tx, groupId: string, previous: readonly string[], next: readonly string[], now: number): Promise<void> {
  const wanted = [...new Set(next)];
  const leaving = previous.filter((id) => !wanted.includes(id));
  const joining = wanted.filter((id) => !previous.includes(id));
  if (leaving.length > 0) await tx.deleteFrom('directory_group_members').where('group_id', '=', groupId).where('user_id', 'in', leaving).execute();
  if (joining.length > 0) await tx.insertInto('directory_group_members').values(joining.map((user_id) => ({ group_id: groupId, user_id }))).execute();
  await bumpUsers(tx, [...leaving, ...joining], now);
}

async function bumpUsers(tx: Tx, ids: readonly string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await tx.updateTable('directory_users').set((eb) => ({ version: eb('version', '+', 1), updated_at: now })).where('id', 'in', [...ids]).execute();
}

async function bumpGroups(tx: Tx, ids: readonly string[], now: number): Promise<void> {
  await tx.updateTable('directory_groups').set((eb) => ({ version: eb('version', '+', 1), updated_at: now })).where('id', 'in', [...ids]).execute();
}
