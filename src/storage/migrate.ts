// kysely 0.28 (the last line for Node 20) exports the migrator from its root; 0.29 moved it to 'kysely/migration'.
import { Migrator, type Kysely, type Migration } from 'kysely';
import * as initial from './migrations/0001-initial.js';
import * as keys from './migrations/0002-keys.js';
import * as verif from './migrations/0002-verif.js';
import * as sso from './migrations/0004-sso.js';

// Migrations are imported statically (not read from a folder) so the compiled package carries them.
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-keys': keys,
  '0002-verif': verif,
  '0004-sso': sso,
};

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
