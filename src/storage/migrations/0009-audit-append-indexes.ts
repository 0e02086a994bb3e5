import { sql, type Kysely } from 'kysely';

// Every append paid an entry in the (grant id, type) index of 0007, and that index is clustered by grant: each
// event of a live grant lands beside that grant's earlier events, one random page per live grant. Past the page
// cache those pages are read back and each checkpoint writes more distinct ones, so an append cost more the larger
// the log had grown (bench/scaling.mjs audit table: 1.5× from 10^4 to 10^6 events). Its two uses get an index each:
//
// - The parent lookup asks only for the types that can be parents (audit/event.ts PARENT_EVENT_TYPES; the device
//   request, looked up by device authorization, has that index). A partial index of just those holds a few events
//   per grant, and the events that pile up on a grant (refreshes, introspections) never touch it. SQLite uses a
//   partial index only when the query's WHERE implies the index's: the lookups name their type as a literal, and a
//   term `type = 'x'` implies this OR of equalities (an IN list would not be recognized).
// - A grant's trace (`tether audit trace`) lists all of its events. That index leads with the event's block of
//   16,384 positions, so appends land in the newest block, whose pages stay few and hot however long the log;
//   a trace looks the grant up in each block (storage/audit-grant-blocks.ts must use the same width).
//
// Both are plain SQL both engines accept: an expression in parentheses is an index key on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('audit_events_grant_id_type').ifExists().execute();
  await sql`create index if not exists audit_events_parent on audit_events (grant_id, type)
    where grant_id is not null and (type = 'device.approved' or type = 'token.issued' or type = 'workload.created')`.execute(db);
  await sql`create index if not exists audit_events_grant_block on audit_events ((seq / 16384), grant_id)
    where grant_id is not null`.execute(db);
}
