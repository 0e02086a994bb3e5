import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { InMemoryClientKey } from '../auth/dpop-key.js';
import type { SessionTokens } from '../auth/token-response.js';
import { ensurePrivateDir } from '../config/paths.js';
import { AGENT_PROTOCOL_VERSION, MAX_MESSAGE_BYTES, parseAgentRequest, type AgentReply, type AgentRequest } from './agent-protocol.js';

/** Sessions one agent holds at most; a person has a handful, so more means something is wrong. */
const MAX_ACCOUNTS = 64;

export interface AgentServerOptions {
  socketPath: string;
  /** Forget everything and exit after this long without a request. */
  idleTimeoutMs: number;
}

interface HeldSession {
  key?: InMemoryClientKey;
  tokens?: SessionTokens;
}

export type AgentStopReason = 'idle' | 'stop-request' | 'closed';

/**
 * The in-memory agent, in the manner of ssh-agent: a Unix socket (mode 0600, in a 0700 folder) through which its
 * owner's processes create DPoP keys, have proofs signed and keep session tokens. Keys are generated here as
 * non-extractable, so the private half never leaves this process; nothing is ever written to disk, and
 * everything is gone when the process exits or sits idle past its timeout.
 */
export class AgentServer {
  private readonly sessions = new Map<string, HeldSession>();
  private idleTimer: NodeJS.Timeout | undefined;
  private resolveStopped!: (reason: AgentStopReason) => void;
  /** Settles when the agent stops, saying why. */
  readonly stopped: Promise<AgentStopReason> = new Promise((resolve) => (this.resolveStopped = resolve));
  private closing = false;

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly idleTimeoutMs: number,
  ) {}

  static async listen(options: AgentServerOptions): Promise<AgentServer> {
    ensurePrivateDir(dirname(options.socketPath));
    await clearStaleSocket(options.socketPath);
    const server = createServer({ allowHalfOpen: false });
    const agent = new AgentServer(server, options.socketPath, options.idleTimeoutMs);
    server.on('connection', (socket) => agent.serve(socket));
    // The socket file takes its mode from the umask at bind time: make it 0600 from birth, not after a chmod.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(options.socketPath, 0o600);
    agent.touch();
    return agent;
  }

  /** How many sessions the agent holds secrets for. */
  get heldSessions(): number {
    return this.sessions.size;
  }

  /** Stops listening, removes the socket and drops every secret. */
  async close(reason: AgentStopReason = 'closed'): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.idleTimer);
    this.sessions.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.socketPath);
    } catch {
      // Already gone (server.close removes it on some platforms).
    }
    this.resolveStopped(reason);
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close('idle'), this.idleTimeoutMs);
  }

  private serve(socket: Socket): void {
    socket.setEncoding('utf8');
    let buffer = '';
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_MESSAGE_BYTES) {
        socket.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
        return;
      }
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      socket.removeAllListeners('data');
      this.touch();
      void this.answer(line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
  }

  private async answer(line: string): Promise<AgentReply> {
    const request = safeParse(line);
    if (typeof request === 'string') return { ok: false, error: request };
    try {
      return await this.handle(request);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  private async handle(request: AgentRequest): Promise<AgentReply> {
    switch (request.op) {
      case 'hello':
        return { ok: true, version: AGENT_PROTOCOL_VERSION, pid: process.pid };
      case 'stop':
        // After the answer is on its way (promise callbacks run before immediates).
        setImmediate(() => void this.close('stop-request'));
        return { ok: true };
      case 'generate-key': {
        const { key } = await InMemoryClientKey.generate({ extractable: false });
        this.session(request.account, true)!.key = key;
        return { ok: true, jwk: key.publicJwk };
      }
      case 'public-key':
        return { ok: true, jwk: this.session(request.account)?.key?.publicJwk ?? null };
      case 'sign': {
        const key = this.session(request.account)?.key;
        if (!key) return { ok: false, error: 'no key for this account' };
        return { ok: true, proof: await key.proof(request.claims) };
      }
      case 'attest': {
        const key = this.session(request.account)?.key;
        if (!key) return { ok: false, error: 'no key for this account' };
        return { ok: true, proof: await key.attest(request.claims) };
      }
      case 'read':
        return { ok: true, tokens: this.session(request.account)?.tokens ?? null };
      case 'write': {
        const session = this.session(request.account);
        // Tokens without the key they are bound to would be useless; refusing keeps the two together.
        if (!session?.key) return { ok: false, error: 'no key for this account' };
        session.tokens = request.tokens;
        return { ok: true };
      }
      case 'forget':
        this.sessions.delete(request.account);
        return { ok: true };
    }
  }

  private session(account: string, create = false): HeldSession | undefined {
    let session = this.sessions.get(account);
    if (!session && create) {
      if (this.sessions.size >= MAX_ACCOUNTS) throw new Error('the agent holds too many sessions; run tether logout');
      session = {};
      this.sessions.set(account, session);
    }
    return session;
  }
}

function safeParse(line: string): AgentRequest | string {
  try {
    return parseAgentRequest(JSON.parse(line));
  } catch {
    return 'request is not JSON';
  }
}

/**
 * A socket file left by an agent that died is removed; one that answers belongs to a running agent, which we must
 * not steal from; anything that is not a socket is not ours to delete.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new AgentAlreadyRunningError(`an agent is already listening on ${path}`);
  unlinkSync(path);
}

export class AgentAlreadyRunningError extends Error {
  readonly code = 'agent_running';
}
