import { sql, type Kysely } from 'kysely';

// The audit lookups by grant, device authorization and token id (provenance traces, a parent's lookup) always ask
// for one value, never for "none". Most events leave one or two of those columns empty (a device request has no
// grant and no token id), and a full index paid an entry for each empty one on every append. Partial indexes
// hold only the events that name one; `column = ?` implies "is not null", so both SQLite and PostgreSQL use them
// for the same queries as before.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const column of ['grant_id', 'device_authorization_id', 'jti'] as const) {
    await db.schema.dropIndex(`audit_events_${column}`).ifExists().execute();
    await db.schema
      .createIndex(`audit_events_${column}`)
      .on('audit_events')
      .column(column)
      .where(sql.ref(column), 'is not', null)
      .execute();
  }
}
