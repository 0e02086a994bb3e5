import { sql, type Kysely } from 'kysely';

// The live-code caps count only pending codes (device-flow/request-limits.ts), but 0002-verif's indexes held
// every code with its status as a key column. So every change of status moved the code in both indexes: an
// approval (pending → approved) and a redemption (approved → redeemed) each paid a delete and an insert in two
// B-trees, on every redemption's write, for entries no count ever reads. Partial indexes of pending codes hold
// what the counts read and nothing else: an approval or a denial only drops the code from them, a redemption and
// every later change touch them not at all, and the counts scan fewer entries.
//
// Every count asks for status 'pending', which implies the indexes' WHERE, so both planners use them
// (test/storage/pending-code-indexes.test.ts asks SQLite's). Plain SQL both engines accept.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists device_authorizations_pending_by_ip on device_authorizations (requester_ip, expires_at)
    where status = 'pending'`.execute(db);
  await sql`create index if not exists device_authorizations_pending_by_client on device_authorizations (client_id, expires_at)
    where status = 'pending'`.execute(db);
  await db.schema.dropIndex('device_authorizations_requester_ip').ifExists().execute();
  await db.schema.dropIndex('device_authorizations_client_id').ifExists().execute();
}
