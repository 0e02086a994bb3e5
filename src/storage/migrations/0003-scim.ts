import type { Kysely } from 'kysely';

/**
 * The stored user directory (issue 14): people with a stable id, the groups they are in, and what SCIM needs
 * (external ids, versions for ETags). Dialect-neutral like 0001: text, integer, bigint; flags are 0/1 integers and
 * lists are JSON text, so SQLite and PostgreSQL read them alike.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('directory_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Canonical (canonicalUserId); unique, including the markers deleted people leave so no restart seeds them again.
    .addColumn('user_name', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('emails', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('source_groups', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  await db.schema.createIndex('directory_users_external_id').on('directory_users').column('external_id').execute();

  await db.schema
    .createTable('directory_groups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('display_name', 'text', (c) => c.notNull())
    // The name lowercased by the server (not by SQL: SQLite's lower() folds ASCII only, PostgreSQL's all of
    // Unicode), unique: policy reads a group by name regardless of case, so two groups must never share one.
    .addColumn('display_name_key', 'text', (c) => c.notNull().unique())
    .addColumn('external_id', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('directory_group_members')
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_group_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('directory_group_members_user').on('directory_group_members').column('user_id').execute();
}
