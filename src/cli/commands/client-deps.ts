import { setTimeout as delay } from 'node:timers/promises';
import { NonceCache } from '../auth/oauth-http.js';
import { FileRefreshLock, type RefreshLock } from '../auth/refresh-lock.js';
import { terminalState, type TerminalState } from '../context/attended.js';
import { cliPaths, type CliPaths } from '../config/paths.js';
import { ProfileFile } from '../config/profiles.js';
import type { CliIO } from '../io.js';
import { cliUserAgent } from '../version.js';
import type { SecretStores } from '../secrets/secret-store.js';
import { systemSecretStores } from '../secrets/system-stores.js';
import { systemBrowser, type Browser } from '../ui/browser.js';

/**
 * Everything a client command touches of the outside world, injected (as the GitHub CLI's commands take their
 * IO, HTTP client, browser and credential store) so each command runs in a test without a terminal, a network
 * or a keychain.
 */
export interface ClientDeps {
  io: CliIO;
  fetch: typeof fetch;
  browser: Browser;
  secrets: SecretStores;
  paths: CliPaths;
  lock: RefreshLock;
  /** Whether stdin, stdout and stderr are terminals. */
  tty: TerminalState;
  /** Seconds since the epoch. */
  now: () => number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Calls `handler` on SIGINT, SIGTERM and SIGHUP until the returned function is called. */
  onInterrupt: (handler: (signal: NodeJS.Signals) => void) => () => void;
  /** Shared by the commands of one process, so a nonce learnt once is reused. */
  nonces: NonceCache;
}

/** The real world: process streams, global fetch, the system browser, keychain-or-agent, signal handlers. */
export function systemClientDeps(io: CliIO): ClientDeps {
  const paths = cliPaths(io.env);
  return {
    io,
    fetch: withUserAgent(globalThis.fetch),
    browser: systemBrowser(io.env),
    secrets: systemSecretStores({ env: io.env, paths }),
    paths,
    lock: new FileRefreshLock(paths.runtimeDir),
    tty: terminalState(io),
    now: () => Math.floor(Date.now() / 1000),
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}).catch(() => undefined),
    onInterrupt: (handler) => {
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const signal of signals) process.on(signal, handler);
      return () => {
        for (const signal of signals) process.off(signal, handler);
      };
    },
    nonces: new NonceCache(),
  };
}

/**
 * fetch that names the CLI in `User-Agent` (the review page shows it as the device software) unless the caller
 * set one: a command run by `tether exec` keeps its own through the proxy.
 */
export function withUserAgent(fetchFn: typeof fetch, userAgent = cliUserAgent()): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has('user-agent')) headers.set('user-agent', userAgent);
    return fetchFn(input, { ...init, headers });
  };
}

/** The config file of the sessions, at the path the deps name. */
export function profileFile(deps: ClientDeps): ProfileFile {
  return new ProfileFile(deps.paths.configFile);
}
