import type { SecretStore, SecretStores } from '../secrets/secret-store.js';
import type { ClientKey } from './dpop-key.js';

/**
 * The secret-store account of this machine's device key. One key per machine (per OS user), whatever the server:
 * it is the machine's identity, enrolled once (`tether device enroll`) and approved by an administrator. Every
 * login makes a fresh DPoP key and has the device key vouch for it (a device statement, see dpop-key.ts), so the
 * device key itself never signs a proof for an API and never leaves the keychain or the agent.
 */
export const DEVICE_KEY_ACCOUNT = 'tether-device-key';

/** The device key and where it lives. */
export interface DeviceKey {
  key: ClientKey;
  store: SecretStore;
  /** Made just now: this machine had none in its keychain or agent (a new machine, or a copied HOME). */
  created: boolean;
}

/**
 * This machine's device key, made on first use in the store a login would use (the OS keychain, else the agent).
 * It exists only there: nothing under HOME holds it, so copying a HOME to another machine copies no identity, and
 * that machine gets a key of its own, unenrolled. (In the agent, it lasts as long as the agent does.)
 */
export async function deviceKey(secrets: SecretStores): Promise<DeviceKey> {
  const { store } = await secrets.choose();
  return deviceKeyIn(store);
}

/** The device key in `store` (the one a login already chose), made there if it has none. */
export async function deviceKeyIn(store: SecretStore): Promise<DeviceKey> {
  const existing = await store.loadKey(DEVICE_KEY_ACCOUNT);
  if (existing) return { key: existing, store, created: false };
  return { key: await store.createKey(DEVICE_KEY_ACCOUNT), store, created: true };
}
