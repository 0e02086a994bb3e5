import { sql, type Kysely } from 'kysely';

// A refresh's audit event names its parent, the grant's latest `token.issued` (`findParent`: type and grant id,
// newest first). On an index by grant id alone that lookup walks back over every later event of the grant (each
// refresh, each introspection), so a refresh cost more the longer its grant had lived. By (grant id, type) the
// lookup is one step at any age; the index still serves every lookup by grant id alone.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_events_grant_id').ifExists().execute();
  await db.schema
    .createIndex('audit_events_grant_id_type')
    .on('audit_events')
    .columns(['grant_id', 'type'])
    .where(sql.ref('grant_id'), 'is not', null)
    .execute();
}
