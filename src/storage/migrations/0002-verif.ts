import type { Kysely } from 'kysely';

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
}
