import type { ClientKey } from '../auth/dpop-key.js';
import type { SessionTokens } from '../auth/token-response.js';
import type { SecretStoreKind } from '../config/profiles.js';

export type { SecretStoreKind } from '../config/profiles.js';

/**
 * Where a session's secrets live: its DPoP private key and its tokens, under an `account` name. Implementations
 * keep them off disk: the OS keychain or the in-memory agent. The key is created inside the store, so the private
 * half is never handed around; callers get something that signs.
 */
export interface SecretStore {
  readonly kind: SecretStoreKind;
  /** For people: which store ("the tether agent", "the OS keychain (Secret Service)"). */
  readonly description: string;
  /** Where it is, when that helps a person (the agent's socket). */
  readonly location?: string;
  /** A fresh P-256 key kept in this store for `account`. */
  createKey(account: string): Promise<ClientKey>;
  /** The key of `account`, or undefined when the store no longer has it. */
  loadKey(account: string): Promise<ClientKey | undefined>;
  readTokens(account: string): Promise<SessionTokens | undefined>;
  writeTokens(account: string, tokens: SessionTokens): Promise<void>;
  /** Removes everything held for `account`. */
  forget(account: string): Promise<void>;
}

export type SecretStoreErrorCode = 'unavailable' | 'timeout' | 'corrupt';

/** The store could not be used; `code` says why, the message says what to do. */
export class SecretStoreError extends Error {
  constructor(
    readonly code: SecretStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecretStoreError';
  }
}

/** Picks and opens stores; injected into commands so tests use in-memory ones. */
export interface SecretStores {
  /**
   * The store a new login uses: the one forced by TETHER_SECRET_STORE, else the OS keychain if a secret service
   * answers in time, else the agent (started if none runs). `note` explains a fallback.
   */
  choose(): Promise<{ store: SecretStore; note?: string }>;
  /** The store a saved session names. Does not start an agent: a stopped agent has forgotten everything. */
  open(kind: SecretStoreKind): Promise<SecretStore>;
}

/** "the tether agent (/run/user/1000/tether/agent.sock)": the store and where it is, for messages. */
export function storeLabel(store: SecretStore): string {
  return store.location ? `${store.description} (${store.location})` : store.description;
}

/** Parses TETHER_SECRET_STORE: `agent`, `keyring`, or unset/`auto`. */
export function forcedStoreKind(env: NodeJS.ProcessEnv): SecretStoreKind | undefined {
  const value = env['TETHER_SECRET_STORE']?.trim().toLowerCase();
  if (!value || value === 'auto') return undefined;
  if (value === 'agent' || value === 'keyring') return value;
  throw new SecretStoreError('unavailable', `TETHER_SECRET_STORE must be agent, keyring or auto, not ${value}`);
}
