import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import { KeyringStore, type KeyringBackend } from './keyring-store.js';
import { forcedStoreKind, SecretStoreError } from './secret-store.js';

const never = () => new Promise<never>(() => {});
const hanging: KeyringBackend = { name: 'hung', get: never, set: never, delete: never };
const broken: KeyringBackend = {
  name: 'broken',
  get: () => Promise.reject(new Error('no bus')),
  set: () => Promise.reject(new Error('no bus')),
  delete: () => Promise.reject(new Error('no bus')),
};

function memory(): KeyringBackend & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    name: 'memory',
    entries,
    get: async (s, a) => entries.get(`${s}/${a}`) ?? null,
    set: async (s, a, v) => void entries.set(`${s}/${a}`, v),
    delete: async (s, a) => void entries.delete(`${s}/${a}`),
  };
}

test('a keychain that hangs costs no more than the timeout', async () => {
  const started = Date.now();
  await assert.rejects(new KeyringStore(hanging, 200).probe(), (e: unknown) => e instanceof SecretStoreError && e.code === 'timeout');
  const took = Date.now() - started;
  assert.ok(took >= 190 && took < 1000, `gave up after ${took} ms`);
});

test('a keychain that fails says so as unavailable', async () => {
  await assert.rejects(new KeyringStore(broken).probe(), (e: unknown) => e instanceof SecretStoreError && e.code === 'unavailable');
});

test('the key survives in the keychain: a later process loads it and signs with the same thumbprint', async () => {
  const backend = memory();
  const key = await new KeyringStore(backend).createKey('acct');
  await new KeyringStore(backend).writeTokens('acct', { accessToken: 'at', accessTokenExpiresAt: 9, refreshToken: 'rt' });
  const later = new KeyringStore(backend);
  const loaded = await later.loadKey('acct');
  assert.equal(loaded?.jkt, key.jkt);
  const proof = await loaded!.proof({ htm: 'GET', htu: 'https://api.example/x' });
  assert.equal(await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK), key.jkt);
  assert.deepEqual(await later.readTokens('acct'), { accessToken: 'at', accessTokenExpiresAt: 9, refreshToken: 'rt' });
  await later.forget('acct');
  assert.equal(backend.entries.size, 0);
  assert.equal(await later.loadKey('acct'), undefined);
});

test('TETHER_SECRET_STORE picks agent or keyring, auto or unset chooses, anything else is an error', () => {
  assert.equal(forcedStoreKind({ TETHER_SECRET_STORE: 'agent' }), 'agent');
  assert.equal(forcedStoreKind({ TETHER_SECRET_STORE: 'Keyring' }), 'keyring');
  assert.equal(forcedStoreKind({ TETHER_SECRET_STORE: 'auto' }), undefined);
  assert.equal(forcedStoreKind({}), undefined);
  assert.throws(() => forcedStoreKind({ TETHER_SECRET_STORE: 'file' }), SecretStoreError);
});
