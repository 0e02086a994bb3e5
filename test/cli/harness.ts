import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { loginCommand } from '../../src/cli/commands/login.js';
import { systemClientDeps, type ClientDeps } from '../../src/cli/commands/client-deps.js';
import type { CliIO } from '../../src/cli/io.js';
import { InProcessRefreshLock } from '../../src/cli/auth/refresh-lock.js';
import { AgentServer } from '../../src/cli/secrets/agent-server.js';
import type { KeyringBackend } from '../../src/cli/secrets/keyring-store.js';
import { systemSecretStores } from '../../src/cli/secrets/system-stores.js';
import { cliPaths } from '../../src/cli/config/paths.js';
import { FormBrowser } from '../support/browser-form.js';
import type { TestServer } from '../support/in-process.js';

/** A writable stream that keeps what was written, optionally pretending to be a terminal. */
export class Captured extends Writable {
  text = '';
  isTTY: boolean;
  columns = 120;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** A stdin that can be a fake terminal: records raw mode, lets the test type. */
export class FakeStdin extends PassThrough {
  isTTY: boolean;
  rawMode = false;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  setRawMode(on: boolean): this {
    this.rawMode = on;
    return this;
  }
}

/** An OS keychain in a Map, as the keyring store sees one. */
export function mapKeyring(entries = new Map<string, string>()): KeyringBackend & { entries: Map<string, string> } {
  return {
    name: 'test keychain',
    entries,
    get: async (service, account) => entries.get(`${service}/${account}`) ?? null,
    set: async (service, account, secret) => void entries.set(`${service}/${account}`, secret),
    delete: async (service, account) => void entries.delete(`${service}/${account}`),
  };
}

/** A machine without a secret service: every call fails at once, as on a server without D-Bus. */
export const absentKeyring: KeyringBackend = {
  name: 'Secret Service',
  get: () => Promise.reject(new Error('DBus error: no session bus')),
  set: () => Promise.reject(new Error('DBus error: no session bus')),
  delete: () => Promise.reject(new Error('DBus error: no session bus')),
};

/** A throwaway HOME and runtime folder, an in-process agent on demand, and the keychain of choice. */
export class Sandbox {
  readonly root = mkdtempSync(join(tmpdir(), 'tether-cli-'));
  readonly home = join(this.root, 'home');
  readonly runtime = join(this.root, 'run');
  readonly agents: AgentServer[] = [];
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly keyring: KeyringBackend = absentKeyring,
    env: NodeJS.ProcessEnv = {},
  ) {
    // Only what a login needs: no CI variables from the machine running the tests.
    this.env = { HOME: this.home, XDG_RUNTIME_DIR: this.runtime, PATH: process.env['PATH'], ...env };
  }

  /**
   * Client deps for one command run. `tty: true` makes stdin, stdout and stderr fake terminals; by default only
   * stdout is one (a person is there, but output on stderr stays plain and nobody answers prompts).
   */
  deps(opts: { tty?: boolean; env?: NodeJS.ProcessEnv; fetch?: typeof fetch; keyringTimeoutMs?: number } = {}) {
    const stdout = new Captured(opts.tty);
    const stderr = new Captured(opts.tty);
    const stdin = new FakeStdin(opts.tty);
    const env = { ...this.env, ...opts.env };
    const io: CliIO = { stdout, stderr, stdin, env };
    const paths = cliPaths(env);
    const opened: string[] = [];
    const system = systemClientDeps(io);
    // The poller's first wait ends as soon as the test has played the person's part (release()), not a whole
    // interval later: the login is as real, only faster. Every later wait is the real one.
    let release!: () => void;
    const decided = new Promise<void>((resolve) => (release = resolve));
    let early = true;
    const deps: ClientDeps = {
      ...system,
      sleep: async (ms, signal) => {
        if (!early) return system.sleep(ms, signal);
        const woke = await Promise.race([decided.then(() => 'decided'), system.sleep(ms, signal).then(() => 'time')]);
        if (woke === 'decided') early = false;
      },
      tty: { stdin: Boolean(opts.tty), stdout: opts.tty ?? true, stderr: Boolean(opts.tty) },
      browser: { open: async (url) => void opened.push(url) },
      secrets: systemSecretStores({
        env,
        paths,
        keyring: this.keyring,
        keyringTimeoutMs: opts.keyringTimeoutMs ?? 1000,
        startAgent: async (socketPath) => {
          this.agents.push(await AgentServer.listen({ socketPath, idleTimeoutMs: 60_000 }));
        },
      }),
      onInterrupt: () => () => undefined,
      lock: new InProcessRefreshLock(),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    };
    return { deps, stdout, stderr, stdin, opened, release };
  }

  async close(): Promise<void> {
    for (const agent of this.agents) await agent.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Waits until `read()` matches `pattern`, for output produced by a command still running. */
export async function waitFor(read: () => string, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs `tether login`, decides in the (form-driven) browser as alice once the code shows, and returns the outcome. */
export async function loginAndDecide(
  server: TestServer,
  run: ReturnType<Sandbox['deps']>,
  decision: 'approve' | 'deny' | 'none' = 'approve',
  args: string[] = ['--issuer', server.issuer],
): Promise<{ code: number; userCode: string }> {
  const pending = loginCommand(args, run.deps);
  const match = await Promise.race([
    waitFor(() => run.stderr.text, /one-time code: (?:\x1b\[1m)?([A-Z]{4}-[A-Z]{4}-[A-Z]{4})/),
    pending.then((code) => {
      throw new Error(`login ended (${code}) before showing a code:\n${run.stderr.text}`);
    }),
  ]);
  const userCode = match[1] as string;
  if (decision !== 'none') {
    await new FormBrowser(server.issuer).decide(userCode, decision);
    run.release();
  }
  return { code: await pending, userCode };
}

/** Every regular file under `dir`, recursively (sockets and other special files are skipped). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Private key material in any common encoding: a JWK's private member, or PEM. */
export const PRIVATE_KEY_PATTERNS = [/"d"\s*:\s*"[A-Za-z0-9_-]{20,}"/, /PRIVATE KEY-----/];

/**
 * Where, among `texts` (name → content), any of `secrets` or any private key shows up. Returns findings as
 * "where: what" without the secret itself, so a failing test does not print it either.
 */
export function findSecrets(texts: Record<string, string>, secrets: string[]): string[] {
  const findings: string[] = [];
  for (const [where, text] of Object.entries(texts)) {
    secrets.forEach((secret, i) => {
      if (text.includes(secret)) findings.push(`${where}: secret #${i}`);
    });
    for (const pattern of PRIVATE_KEY_PATTERNS) if (pattern.test(text)) findings.push(`${where}: private key (${pattern})`);
  }
  return findings;
}

/** The contents of every file under the folders, by path. */
export function readAll(dirs: string[]): Record<string, string> {
  const texts: Record<string, string> = {};
  for (const dir of dirs) for (const file of filesUnder(dir)) texts[file] = readFileSync(file).toString('latin1');
  return texts;
}
