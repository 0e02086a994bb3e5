import { lstatSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the client keeps things: metadata on disk, the agent's socket and locks in a private runtime folder. */
export interface CliPaths {
  /** Non-secret metadata only (config.json). */
  configDir: string;
  configFile: string;
  /** Sockets and lock files; never secrets. */
  runtimeDir: string;
  agentSocket: string;
}

/**
 * Resolves the client's paths from the environment: `$XDG_CONFIG_HOME/tether` (else `~/.config/tether`) for
 * metadata; `$XDG_RUNTIME_DIR/tether` (else a per-user folder under the temporary directory) for the agent socket;
 * `TETHER_AGENT_SOCK` overrides the socket, as `SSH_AUTH_SOCK` does for ssh-agent.
 *
 * @see https://specifications.freedesktop.org/basedir-spec/latest/
 */
export function cliPaths(env: NodeJS.ProcessEnv): CliPaths {
  const home = env['HOME'] || homedir();
  const configDir = join(env['XDG_CONFIG_HOME'] || join(home, '.config'), 'tether');
  const runtimeDir = env['XDG_RUNTIME_DIR']
    ? join(env['XDG_RUNTIME_DIR'], 'tether')
    : join(env['TMPDIR'] || tmpdir(), `tether-${currentUid()}`);
  return {
    configDir,
    configFile: join(configDir, 'config.json'),
    runtimeDir,
    agentSocket: env['TETHER_AGENT_SOCK'] || join(runtimeDir, 'agent.sock'),
  };
}

/** The effective user id, or 0 where the platform has none (Windows). */
export function currentUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

export class UnsafeDirectoryError extends Error {
  readonly code = 'unsafe_directory';
}

/**
 * Creates `dir` (mode 0700) if needed and checks that it is a real directory owned by this user and closed to
 * everyone else. An existing folder that fails the check is refused, never "fixed": under a shared /tmp it may have
 * been planted by another user to catch our socket, and a path someone pointed us at may be a system folder.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new UnsafeDirectoryError(`${dir} is not a directory`);
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
    throw new UnsafeDirectoryError(`${dir} belongs to another user; refusing to keep anything there`);
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new UnsafeDirectoryError(`${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)}); make it 0700 (chmod 700 ${dir})`);
  }
}
