import type { JWK } from 'jose';
import { InMemoryClientKey, type ClientKey } from '../auth/dpop-key.js';
import type { SessionTokens } from '../auth/token-response.js';
import { SecretStoreError, type SecretStore } from './secret-store.js';

/** The keychain "service" every entry is filed under. */
export const KEYRING_SERVICE = 'tether';
/** A secret service that does not answer within this is treated as absent (a locked keychain may prompt forever). */
export const KEYRING_TIMEOUT_MS = 1000;

/** The three calls we need from an OS keychain; the default binds @napi-rs/keyring, tests pass a Map. */
export interface KeyringBackend {
  readonly name: string;
  get(service: string, account: string, signal: AbortSignal): Promise<string | null>;
  set(service: string, account: string, secret: string, signal: AbortSignal): Promise<void>;
  delete(service: string, account: string, signal: AbortSignal): Promise<void>;
}

interface KeyringEntry {
  v: 1;
  key: JWK;
  tokens?: SessionTokens;
}

/**
 * Secrets in the OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on Linux): one entry
 * per session holding the private JWK and the tokens. Every call has a timeout, as the GitHub CLI gives its
 * keyring calls, so a keychain that hangs costs at most a second.
 *
 * @see https://github.com/cli/cli/blob/trunk/internal/keyring/keyring.go
 */
export class KeyringStore implements SecretStore {
  readonly kind = 'keyring';
  readonly description: string;
  // The entry as last read or written, so a refresh does not re-read the key for every token write.
  private readonly entries = new Map<string, KeyringEntry>();

  constructor(
    private readonly backend: KeyringBackend,
    private readonly timeoutMs = KEYRING_TIMEOUT_MS,
  ) {
    this.description = `the OS keychain (${backend.name})`;
  }

  /** Writes, reads back and deletes a probe entry: only a keychain that does all three in time is used. */
  async probe(): Promise<void> {
    const account = `probe-${process.pid}`;
    await this.call('set', (s) => this.backend.set(KEYRING_SERVICE, account, 'probe', s));
    const read = await this.call('get', (s) => this.backend.get(KEYRING_SERVICE, account, s));
    await this.call('delete', (s) => this.backend.delete(KEYRING_SERVICE, account, s));
    if (read !== 'probe') throw new SecretStoreError('unavailable', 'the keychain did not return what was stored');
  }

  async createKey(account: string): Promise<ClientKey> {
    const { key, privateJwk } = await InMemoryClientKey.generate({ extractable: true });
    if (!privateJwk) throw new SecretStoreError('unavailable', 'could not export the new key');
    await this.save(account, { v: 1, key: privateJwk });
    return key;
  }

  async loadKey(account: string): Promise<ClientKey | undefined> {
    const entry = await this.load(account);
    return entry ? InMemoryClientKey.fromPrivateJwk(entry.key) : undefined;
  }

  async readTokens(account: string): Promise<SessionTokens | undefined> {
    return (await this.load(account, { fresh: true }))?.tokens;
  }

  async writeTokens(account: string, tokens: SessionTokens): Promise<void> {
    const entry = this.entries.get(account) ?? (await this.load(account));
    if (!entry) throw new SecretStoreError('unavailable', 'the keychain no longer holds this session\'s key');
    await this.save(account, { ...entry, tokens });
  }

  async forget(account: string): Promise<void> {
    this.entries.delete(account);
    await this.call('delete', (s) => this.backend.delete(KEYRING_SERVICE, account, s));
  }

  private async load(account: string, opts: { fresh?: boolean } = {}): Promise<KeyringEntry | undefined> {
    // Tokens are re-read each time: another process may have refreshed them.
    if (!opts.fresh) {
      const cached = this.entries.get(account);
      if (cached) return cached;
    }
    const raw = await this.call('get', (s) => this.backend.get(KEYRING_SERVICE, account, s));
    if (raw === null) return undefined;
    let entry: KeyringEntry;
    try {
      entry = JSON.parse(raw) as KeyringEntry;
    } catch {
      throw new SecretStoreError('corrupt', 'the keychain entry for this session is not readable');
    }
    if (entry.v !== 1 || typeof entry.key !== 'object') throw new SecretStoreError('corrupt', 'the keychain entry for this session is not ours');
    this.entries.set(account, entry);
    return entry;
  }

  private async save(account: string, entry: KeyringEntry): Promise<void> {
    await this.call('set', (s) => this.backend.set(KEYRING_SERVICE, account, JSON.stringify(entry), s));
    this.entries.set(account, entry);
  }

  private async call<T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new SecretStoreError('timeout', `the keychain did not answer within ${this.timeoutMs} ms (${what})`));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([run(controller.signal), timeout]);
    } catch (error) {
      if (error instanceof SecretStoreError) throw error;
      throw new SecretStoreError('unavailable', `the keychain failed (${what}): ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The real keychain through @napi-rs/keyring, loaded on first use so a platform without its native binary still
 * runs the rest of the CLI. On Linux it is pinned to the Secret Service: the library would otherwise fall back
 * silently to the kernel keyring, which forgets at reboot and is not what a person means by "keychain".
 */
export function napiKeyringBackend(platform: NodeJS.Platform = process.platform): KeyringBackend {
  const name = platform === 'darwin' ? 'macOS Keychain' : platform === 'win32' ? 'Windows Credential Manager' : 'Secret Service';
  type Binding = typeof import('@napi-rs/keyring');
  let binding: Promise<Binding> | undefined;
  const entry = async (service: string, account: string) => {
    binding ??= import('@napi-rs/keyring');
    const { AsyncEntry } = await binding;
    return new AsyncEntry(service, account, platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
  };
  return {
    name,
    get: async (service, account, signal) => (await entry(service, account)).getPassword(signal),
    set: async (service, account, secret, signal) => (await entry(service, account)).setPassword(secret, signal),
    delete: async (service, account, signal) => {
      await (await entry(service, account)).deletePassword(signal);
    },
  };
}
