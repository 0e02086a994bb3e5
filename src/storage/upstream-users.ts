import type { Kysely, Selectable } from 'kysely';
import type { UpstreamUserStore } from '../users/upstream-users.js';
import type { User } from '../users/user.js';
import type { Database, UpstreamUserTable } from './schema.js';

/** The people upstream providers brought in (table `upstream_users`, migration 0004-sso). */
export class SqlUpstreamUserStore implements UpstreamUserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async upsertUpstreamUser(u: User & { provider: string; subject: string; email: string | null }, now: number): Promise<void> {
    const fields = { username: u.username, display_name: u.displayName, email: u.email, groups: JSON.stringify(u.groups), updated_at: now };
    await this.db
      .insertInto('upstream_users')
      .values({ id: u.id, provider: u.provider, subject: u.subject, created_at: now, ...fields })
      .onConflict((oc) => oc.column('id').doUpdateSet(fields))
      .execute();
  }

  async findUpstreamUser(id: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('upstream_users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && upstreamUserFromRow(r);
  }
}

/** A person an upstream provider brought in, from their row. */
export function upstreamUserFromRow(r: Pick<Selectable<UpstreamUserTable>, 'id' | 'username' | 'display_name' | 'groups'>): User {
  const groups: unknown = JSON.parse(r.groups);
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
  };
}
