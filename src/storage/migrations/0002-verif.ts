import { sql, type Kysely } from 'kysely';

// The live-code caps count undecided codes per requesting address and per client on every device authorization
// request; these indexes keep that a lookup, not a scan, when many codes are live.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('device_authorizations_requester_ip')
    .on('device_authorizations')
    .columns(['requester_ip', 'status', 'expires_at'])
    .execute();
  await db.schema
    .createIndex('device_authorizations_client_id')
    .on('device_authorizations')
    .columns(['client_id', 'status', 'expires_at'])
    .execute();
  // User ids are canonical now (users/canonical-id.ts): grants and sessions written before keep working with the
  // revoke-by-user and the sign-in that look them up canonically. Audit events are left as written: the hash chain
  // covers them. lower(trim()) is the canonical form for the ASCII names accounts have used so far.
  await sql`update grants set user_id = lower(trim(user_id))`.execute(db);
  await sql`update browser_sessions set user_id = lower(trim(user_id)) where user_id is not null`.execute(db);
}
