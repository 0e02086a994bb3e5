import type { Kysely } from 'kysely';

/**
 * Device identity: the long-lived device key that vouched for a login (its device statement), kept with the
 * request and its grant so every later step of policy (approval, issuance, refresh) asks the registry about the
 * device key, not the per-login DPoP key. Null when no statement came (the DPoP key then stands for the device).
 * Dialect-neutral, like 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('device_authorizations').addColumn('device_jkt', 'text').execute();
  await db.schema.alterTable('grants').addColumn('device_jkt', 'text').execute();
}
