import type { Statement } from 'better-sqlite3';
import type { DirectoryUser } from '../users/directory.js';
import { canonicalUserId } from '../users/canonical-id.js';
import type { User } from '../users/user.js';
import type { DirectoryUserTable, UpstreamUserTable } from './schema.js';
import { outsideTransaction } from './sqlite-outside-transaction.js';
import type { SqliteHandle } from './sqlite.js';
import { SqlUpstreamUserStore, upstreamUserFromRow } from './upstream-users.js';
import { SqlDirectoryStore, userFromRow } from './users.js';

/**
 * The stored directory's reads of one person on prepared statements. Every issuance and every refresh reads the
 * person (policy decides on their groups now, and a deactivated person gets nothing): through Kysely that was two
 * queries built, compiled and run through its connection lock, several times the cost of the SQL. Same rows, same
 * order of groups, committed rows only (`outsideTransaction`); writes and lists stay on the Kysely store it extends.
 */
export class SqliteDirectoryStore extends SqlDirectoryStore {
  private readonly selectById: Statement;
  private readonly selectByName: Statement;
  private readonly selectMemberships: Statement;

  constructor(private readonly sqlite: SqliteHandle) {
    super(sqlite.db);
    const { raw } = sqlite;
    this.selectById = raw.prepare('select * from directory_users where id = ? and deleted_at is null');
    this.selectByName = raw.prepare('select * from directory_users where user_name = ? and deleted_at is null');
    this.selectMemberships = raw.prepare(
      'select g.id as id, g.display_name as displayName from directory_group_members m inner join directory_groups g on g.id = m.group_id where m.user_id = ? order by g.display_name',
    );
  }

  override async findUser(id: string): Promise<DirectoryUser | undefined> {
    return outsideTransaction(this.sqlite, () => this.read(this.selectById, id));
  }

  override async findUserByName(userName: string): Promise<DirectoryUser | undefined> {
    return outsideTransaction(this.sqlite, () => this.read(this.selectByName, canonicalUserId(userName)));
  }

  private read(select: Statement, value: string): DirectoryUser | undefined {
    const row = select.get(value) as DirectoryUserTable | undefined;
    return row && userFromRow(row, this.selectMemberships.all(row.id) as { id: string; displayName: string }[]);
  }
}

/** The upstream people's lookup by id on a prepared statement (each of their issuances and refreshes reads it). */
export class SqliteUpstreamUserStore extends SqlUpstreamUserStore {
  private readonly selectById: Statement;

  constructor(private readonly sqlite: SqliteHandle) {
    super(sqlite.db);
    this.selectById = sqlite.raw.prepare('select id, username, display_name, groups from upstream_users where id = ?');
  }

  override async findUpstreamUser(id: string): Promise<User | undefined> {
    const row = await outsideTransaction(this.sqlite, () => this.selectById.get(id) as Pick<UpstreamUserTable, 'id' | 'username' | 'display_name' | 'groups'> | undefined);
    return row && upstreamUserFromRow(row);
  }
}
