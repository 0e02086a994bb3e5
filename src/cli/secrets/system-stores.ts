import type { CliPaths } from '../config/paths.js';
import { ensurePrivateDir } from '../config/paths.js';
import { dirname } from 'node:path';
import { AgentClient, AgentStore } from './agent-client.js';
import { ensureAgent, spawnAgentProcess, type AgentStarter } from './agent-launcher.js';
import { KeyringStore, KEYRING_TIMEOUT_MS, napiKeyringBackend, type KeyringBackend } from './keyring-store.js';
import { forcedStoreKind, SecretStoreError, type SecretStore, type SecretStoreKind, type SecretStores } from './secret-store.js';

export interface SystemStoresOptions {
  env: NodeJS.ProcessEnv;
  paths: CliPaths;
  keyring?: KeyringBackend;
  keyringTimeoutMs?: number;
  startAgent?: AgentStarter;
}

/**
 * The real choice of secret store: TETHER_SECRET_STORE forces one; otherwise the OS keychain when a secret service
 * answers within a second, and the in-memory agent when not (started on demand). There is deliberately no third
 * option: a file, however encrypted, is what this CLI promises never to write.
 */
export function systemSecretStores(options: SystemStoresOptions): SecretStores {
  const backend = options.keyring ?? napiKeyringBackend();
  const timeout = options.keyringTimeoutMs ?? KEYRING_TIMEOUT_MS;
  const start = options.startAgent ?? spawnAgentProcess();
  const agentStore = async (launch: boolean): Promise<AgentStore> => {
    const client = new AgentClient(options.paths.agentSocket);
    if (launch) {
      ensurePrivateDir(dirname(options.paths.agentSocket));
      await ensureAgent(client, start);
    }
    return new AgentStore(client);
  };
  return {
    async choose() {
      const forced = forcedStoreKind(options.env);
      if (forced === 'agent') return { store: await agentStore(true) };
      const keyring = new KeyringStore(backend, timeout);
      if (forced === 'keyring') {
        await keyring.probe();
        return { store: keyring };
      }
      try {
        await keyring.probe();
        return { store: keyring };
      } catch (error) {
        const reason = error instanceof SecretStoreError && error.code === 'timeout' ? 'timed out' : 'unavailable';
        return { store: await agentStore(true), note: `no OS keychain answered (${backend.name} ${reason})` };
      }
    },
    async open(kind: SecretStoreKind): Promise<SecretStore> {
      return kind === 'keyring' ? new KeyringStore(backend, timeout) : agentStore(false);
    },
  };
}
