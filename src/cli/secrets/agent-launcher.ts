import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AgentClient } from './agent-client.js';
import { SecretStoreError } from './secret-store.js';

/** Starts an agent listening on `socketPath`; resolves once it was launched (not necessarily listening yet). */
export type AgentStarter = (socketPath: string) => Promise<void>;

/** bin/tether.js, found from this module whether it runs from dist/ or, under tsx, from src/. */
export const TETHER_BIN = fileURLToPath(new URL('../../../bin/tether.js', import.meta.url));

/**
 * Launches `tether agent run` as a detached background process, as `eval $(ssh-agent)` would: no terminal, no
 * inherited output, working directory `/` so it pins no folder. It gets no secret on its command line or in its
 * environment; secrets reach it only through the socket.
 */
export function spawnAgentProcess(bin: string = TETHER_BIN): AgentStarter {
  return async (socketPath) => {
    const child = spawn(process.execPath, [bin, 'agent', 'run', '--socket', socketPath], {
      detached: true,
      stdio: 'ignore',
      cwd: '/',
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
  };
}

/**
 * Makes sure an agent answers on the client's socket, starting one if none does. Waits for it to listen.
 * @returns whether an agent was already running.
 */
export async function ensureAgent(client: AgentClient, start: AgentStarter, timeoutMs = 5000): Promise<'running' | 'started'> {
  if ((await client.ping()) !== undefined) return 'running';
  await start(client.socketPath);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await client.ping()) !== undefined) return 'started';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new SecretStoreError('unavailable', `started a tether agent but it did not answer on ${client.socketPath}`);
}
