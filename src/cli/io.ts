/** What a command may touch of the outside world, injected so each command is testable without a terminal. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export const processIO: CliIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
};

/** Exit codes, documented in docs/cli.md; distinct so scripts can tell failures apart. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  network: 4,
  unauthorized: 5,
  /** The person pressed Deny on the verification page. */
  denied: 6,
  /** The device code expired before anyone approved it. */
  expired: 7,
  /** Login refused here: nobody is at the keyboard (CI, no terminal) and the server's policy does not allow it. */
  refused: 8,
  /** No session, or it ended (revoked, expired, or the agent forgot it): run `tether login`. */
  notSignedIn: 9,
  /** No safe place for secrets: the keychain failed and the agent could not be reached or started. */
  secretStore: 10,
  /** `tether request`: the API answered with an HTTP error status (4xx or 5xx). */
  httpError: 11,
  /** The server revoked the session (an admin, a sign-out elsewhere, a reused refresh token): run `tether login`. */
  revoked: 12,
  /** `tether exec`: the command could not be started (not found or not executable), as shells report it. */
  commandNotFound: 127,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

/**
 * A reader that went away (`tether audit | head -1`) is not an error: end quietly with the exit code so far, as
 * `cat` and `git log` do, instead of a stack trace for EPIPE. Anything else on the stream is still thrown.
 */
export function endQuietlyOnClosedPipe(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok);
    });
  }
}
