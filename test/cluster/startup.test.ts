import { systemClock } from '../../src/shared/clock.js';
import { generateKekText, KeyEncryptionKey } from '../../src/tokens/key-encryption.js';
// Instances started at the same moment on an empty PostgreSQL database: migrations run once, and the shared
// state made at start (the first signing key, the CSRF key) is the same on all of them — otherwise a token
// signed by one would not verify on the other, and a form served by one would be refused by the other.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SqlSettings } from '../../src/storage/settings.js';
import { SqlSigningKeyStore } from '../../src/storage/signing-keys.js';
import { openStorage, type Storage } from '../../src/storage/open.js';
import { KeyRing } from '../../src/tokens/signing-keys.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from '../support/postgres.js';

const skip = postgresSkipReason();
let pg: TestPostgres;
let url: string;

before(async () => {
  if (skip) return;
  pg = await startPostgres();
  url = await pg.database();
});
after(async () => {
  await pg?.stop();
});

const kek = KeyEncryptionKey.parse(generateKekText());

test('three instances starting at once on an empty database agree on schema, signing key and CSRF key', { skip }, async () => {
  const options = { engine: 'postgres' as const, synchronous: 'normal' as const, url, pool_size: 3 };
  const instances: Storage[] = await Promise.all([1, 2, 3].map(() => openStorage(options, '/nonexistent')));
  try {
    const rings = await Promise.all(
      instances.map((s) => s.startup(() => KeyRing.open(new SqlSigningKeyStore(s.db), kek, systemClock))),
    );
    const kids = rings.map((r) => r.signingKey.kid);
    assert.equal(new Set(kids).size, 1, `one signing key for all: ${kids.join(', ')}`);
    assert.equal((await new SqlSigningKeyStore(instances[0]!.db).listSigningKeys()).length, 1);
    const csrf = await Promise.all(instances.map((s) => new SqlSettings(s.db).getOrCreate('csrf_key', () => Math.random().toString(36))));
    assert.equal(new Set(csrf).size, 1, 'one CSRF key for all');
  } finally {
    await Promise.all(instances.map((s) => s.close()));
  }
});
