import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { generateKekText, KeyEncryptionError, KeyEncryptionKey } from './key-encryption.js';
import { KeyRing, RotationInProgress, type SigningKeyStore, type StoredSigningKey } from './signing-keys.js';

class MemoryKeys implements SigningKeyStore {
  rows: StoredSigningKey[] = [];
  async listSigningKeys() {
    return this.rows.map((r) => ({ ...r }));
  }
  async insertSigningKey(key: StoredSigningKey) {
    this.rows.push({ ...key });
  }
  async updatePrivateKey(kid: string, privateJwk: string) {
    for (const r of this.rows) if (r.kid === kid) r.privateJwk = privateJwk;
  }
  async retireSigningKey(kid: string, at: number) {
    for (const r of this.rows) if (r.kid === kid) r.retiredAt = at;
  }
}

test('private keys are stored sealed, and a sealed key opens only for its own kid with its own KEK', async () => {
  const store = new MemoryKeys();
  const kek = KeyEncryptionKey.parse(generateKekText());
  const ring = await KeyRing.open(store, kek, new FakeClock());
  const [row] = store.rows;
  assert.ok(row && KeyEncryptionKey.isSealed(row.privateJwk));
  assert.ok(!row.privateJwk.includes('"d"'));
  assert.equal(ring.signingKey.kid, row.kid);
  assert.throws(() => kek.open('another-kid', row.privateJwk), (e: unknown) => e instanceof KeyEncryptionError && e.code === 'kek_wrong');
  const other = KeyEncryptionKey.parse(generateKekText());
  await assert.rejects(KeyRing.open(store, other, new FakeClock()), (e: unknown) => e instanceof KeyEncryptionError && e.code === 'kek_wrong');
  assert.throws(() => KeyEncryptionKey.parse('too short'), (e: unknown) => e instanceof KeyEncryptionError && e.code === 'kek_malformed');
});

test('rotation: published at once, signing after the delay, the old key retired after the token lifetime; a restart keeps the plan', async () => {
  const store = new MemoryKeys();
  const kek = KeyEncryptionKey.parse(generateKekText());
  const clock = new FakeClock(1_000_000);
  const ring = await KeyRing.open(store, kek, clock);
  const old = ring.signingKey.kid;
  const plan = await ring.rotate({ publishAhead: 600, retireAfter: 660 });
  assert.deepEqual(plan.retiring, [{ kid: old, retiredAt: 1_000_000 + 600 + 660 }]);
  assert.equal(ring.jwks().keys.length, 2);
  assert.equal(ring.signingKey.kid, old);
  await assert.rejects(ring.rotate({ publishAhead: 600, retireAfter: 660 }), RotationInProgress);

  clock.advance(599);
  assert.equal(ring.signingKey.kid, old);
  clock.advance(1);
  assert.equal(ring.signingKey.kid, plan.kid);
  assert.ok(await ring.getKey(old, 'ES256'), 'the old key still verifies');

  // A restart in the middle of the plan picks it up from storage.
  const restarted = await KeyRing.open(store, kek, clock);
  assert.equal(restarted.signingKey.kid, plan.kid);
  clock.advance(659);
  assert.deepEqual(restarted.jwks().keys.map((k) => k.kid).sort(), [old, plan.kid].sort());
  clock.advance(1);
  assert.deepEqual(restarted.jwks().keys.map((k) => k.kid), [plan.kid]);
  assert.equal(await restarted.getKey(old, 'ES256'), undefined, 'a retired key verifies nothing');
  assert.deepEqual(
    restarted.status().map((s) => [s.kid, s.state]),
    [
      [plan.kid, 'signing'],
      [old, 'retired'],
    ],
  );
  // The next rotation may start now; the retired key keeps its row (audit checkpoints it signed still verify).
  await restarted.rotate({ publishAhead: 10, retireAfter: 10 });
  assert.equal(store.rows.length, 3);
});
