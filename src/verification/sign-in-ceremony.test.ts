import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../shared/clock.js';
import { SignInCeremonies, type CeremonyKind, type SignInCeremonyStore, type StoredCeremony } from './sign-in-ceremony.js';

/** The store's contract in memory: take is find-and-delete under every condition at once. */
class MemoryStore implements SignInCeremonyStore {
  readonly rows = new Map<string, StoredCeremony>();
  async insertCeremony(c: StoredCeremony) {
    this.rows.set(c.idHash, c);
  }
  async takeCeremony(idHash: string, sessionHash: string, kind: CeremonyKind, now: number) {
    const c = this.rows.get(idHash);
    if (!c || c.sessionHash !== sessionHash || c.kind !== kind || c.expiresAt <= now) return undefined;
    this.rows.delete(idHash);
    return c.sealed;
  }
  async deleteExpiredCeremonies() {
    return 0;
  }
}

test('a ceremony is used once, by its own session, for its own kind, within ten minutes', async () => {
  const clock = new FakeClock(1_000);
  const store = new MemoryStore();
  const ceremonies = new SignInCeremonies(store, clock);
  const state = await ceremonies.begin('session-a', 'upstream', { nonce: 'n-1', verifier: 'v-1' });
  assert.equal(await ceremonies.take('session-b', 'upstream', state), undefined, 'another session');
  assert.equal(await ceremonies.take('session-a', 'passkey_sign_in', state), undefined, 'another kind');
  assert.deepEqual(await ceremonies.take('session-a', 'upstream', state), { nonce: 'n-1', verifier: 'v-1' });
  assert.equal(await ceremonies.take('session-a', 'upstream', state), undefined, 'used once');
  const late = await ceremonies.begin('session-a', 'upstream', { nonce: 'n-2' });
  clock.advance(600);
  assert.equal(await ceremonies.take('session-a', 'upstream', late), undefined, 'expired');
});

test('what is stored names neither the state nor the nonce and verifier it carries', async () => {
  const store = new MemoryStore();
  const ceremonies = new SignInCeremonies(store, new FakeClock(1));
  const state = await ceremonies.begin('session-a', 'upstream', { nonce: 'the-nonce-value', verifier: 'the-verifier-value' });
  const stored = JSON.stringify([...store.rows.values()]);
  for (const secret of [state, 'the-nonce-value', 'the-verifier-value', 'session-a']) assert.ok(!stored.includes(secret), secret);
});
