import { calculateJwkThumbprint, type JWK } from 'jose';
import { createConnection } from 'node:net';
import type { ClientKey, ProofClaims, StatementClaims } from '../auth/dpop-key.js';
import type { SessionTokens } from '../auth/token-response.js';
import { MAX_MESSAGE_BYTES, parseSessionTokens, type AgentRequest } from './agent-protocol.js';
import { SecretStoreError, type SecretStore } from './secret-store.js';

const REQUEST_TIMEOUT_MS = 3000;

/** Talks to the agent over its socket: one connection per request, so there is no session state to go stale. */
export class AgentClient {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  async request(request: AgentRequest): Promise<Record<string, unknown>> {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      let data = '';
      socket.setEncoding('utf8');
      socket.setTimeout(this.timeoutMs, () => {
        socket.destroy();
        reject(new SecretStoreError('timeout', `the tether agent at ${this.socketPath} did not answer`));
      });
      socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
      socket.on('data', (chunk: string) => {
        data += chunk;
        if (data.length > MAX_MESSAGE_BYTES) socket.destroy(new Error('answer too large'));
      });
      socket.on('end', () => resolve(data));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
            ? new SecretStoreError('unavailable', `no tether agent is running at ${this.socketPath}`)
            : new SecretStoreError('unavailable', `the tether agent failed: ${error.message}`),
        );
      });
    });
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(reply) as Record<string, unknown>;
    } catch {
      throw new SecretStoreError('unavailable', 'the tether agent gave an unreadable answer');
    }
    if (parsed['ok'] !== true) throw new SecretStoreError('unavailable', `the tether agent refused: ${String(parsed['error'])}`);
    return parsed;
  }

  /** The agent's pid, or undefined when none answers. */
  async ping(): Promise<number | undefined> {
    try {
      const reply = await this.request({ op: 'hello' });
      return typeof reply['pid'] === 'number' ? reply['pid'] : 0;
    } catch {
      return undefined;
    }
  }
}

/** A key that lives in the agent: signing is a round trip to it; the private half never comes out. */
class AgentHeldKey implements ClientKey {
  constructor(
    private readonly client: AgentClient,
    private readonly account: string,
    readonly publicJwk: JWK,
    readonly jkt: string,
  ) {}

  async proof(claims: ProofClaims): Promise<string> {
    const reply = await this.client.request({ op: 'sign', account: this.account, claims });
    if (typeof reply['proof'] !== 'string') throw new SecretStoreError('unavailable', 'the tether agent did not sign');
    return reply['proof'];
  }

  async attest(claims: StatementClaims): Promise<string> {
    const reply = await this.client.request({ op: 'attest', account: this.account, claims });
    if (typeof reply['proof'] !== 'string') throw new SecretStoreError('unavailable', 'the tether agent did not sign');
    return reply['proof'];
  }
}

/**
 * Secrets held by the tether agent (see AgentServer). The key is generated inside the agent, non-extractable;
 * tokens travel over the owner-only socket and live in the agent's memory.
 */
export class AgentStore implements SecretStore {
  readonly kind = 'agent';
  readonly description = 'the tether agent';
  readonly location: string;

  constructor(readonly client: AgentClient) {
    this.location = client.socketPath;
  }

  async createKey(account: string): Promise<ClientKey> {
    const reply = await this.client.request({ op: 'generate-key', account });
    return this.keyFrom(account, reply['jwk']);
  }

  async loadKey(account: string): Promise<ClientKey | undefined> {
    const reply = await this.client.request({ op: 'public-key', account });
    return reply['jwk'] ? this.keyFrom(account, reply['jwk']) : undefined;
  }

  async readTokens(account: string): Promise<SessionTokens | undefined> {
    const reply = await this.client.request({ op: 'read', account });
    return reply['tokens'] ? parseSessionTokens(reply['tokens']) : undefined;
  }

  async writeTokens(account: string, tokens: SessionTokens): Promise<void> {
    await this.client.request({ op: 'write', account, tokens });
  }

  async forget(account: string): Promise<void> {
    await this.client.request({ op: 'forget', account });
  }

  private async keyFrom(account: string, jwk: unknown): Promise<ClientKey> {
    if (!jwk || typeof jwk !== 'object') throw new SecretStoreError('unavailable', 'the tether agent sent no key');
    const publicJwk = jwk as JWK;
    return new AgentHeldKey(this.client, account, publicJwk, await calculateJwkThumbprint(publicJwk));
  }
}
