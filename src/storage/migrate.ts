// kysely 0.28 (the last line for Node 20) exports the migrator from its root; 0.29 moved it to 'kysely/migration'.
import { Migrator, type Kysely, type Migration } from 'kysely';
import * as initial from './migrations/0001-initial.js';
import * as keys from './migrations/0002-keys.js';
import * as sharedState from './migrations/0002-shared-state.js';
import * as verif from './migrations/0002-verif.js';
import * as workload from './migrations/0002-workload.js';
import * as scim from './migrations/0003-scim.js';
import * as device from './migrations/0003-device.js';
import * as sso from './migrations/0004-sso.js';
import * as failureCounts from './migrations/0005-failure-counts.js';
import * as accessTokenIndex from './migrations/0006-access-token-index.js';
import * as auditIndexes from './migrations/0006-audit-indexes.js';
import * as auditGrantTypeIndex from './migrations/0007-audit-grant-type-index.js';
import * as deviceCodeNamesItsRow from './migrations/0008-device-code-names-its-row.js';
import * as auditAppendIndexes from './migrations/0009-audit-append-indexes.js';
import * as pendingCodeIndexes from './migrations/0010-pending-code-indexes.js';
import * as grantsByEnd from './migrations/0011-grants-by-end.js';

// Migrations are imported statically (not read from a folder) so the compiled package carries them. They use
// Kysely's schema builder, which writes each engine's SQL; what differs between engines is asked of dialect.ts.
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-keys': keys,
  '0002-shared-state': sharedState,
  '0002-verif': verif,
  '0002-workload': workload,
  '0003-scim': scim,
  '0003-device': device,
  '0004-sso': sso,
  '0005-failure-counts': failureCounts,
  '0006-access-token-index': accessTokenIndex,
  '0006-audit-indexes': auditIndexes,
  '0007-audit-grant-type-index': auditGrantTypeIndex,
  '0008-device-code-names-its-row': deviceCodeNamesItsRow,
  '0009-audit-append-indexes': auditAppendIndexes,
  '0010-pending-code-indexes': pendingCodeIndexes,
  '0011-grants-by-end': grantsByEnd,
};

/**
 * Brings the schema up to date. Safe to run from several instances at once: Kysely's migrator holds a lock row
 * (on PostgreSQL, `select … for update` in its own transaction) while it runs. Migrations added on separate
 * branches carry the same number; they are independent tables, so the order in which a database met them does
 * not matter (hence allowUnorderedMigrations).
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...MIGRATIONS }) }, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
