import type { ClientDeps } from './commands/client-deps.js';
import { ExitCode, processIO, type CliIO } from './io.js';
import { cliVersion } from './version.js';

type Run = (args: string[], io: CliIO) => Promise<number>;

/** A command as `tether --help` lists it; its module is imported only when it runs. */
interface Entry {
  summary: string;
  load: () => Promise<Run>;
}

/** A client command: it gets the real world (process streams, fetch, keychain or agent) as its deps. */
function client(summary: string, load: () => Promise<(args: string[], deps: ClientDeps) => Promise<number>>): Entry {
  return {
    summary,
    load: async () => {
      const [run, { systemClientDeps }] = await Promise.all([load(), import('./commands/client-deps.js')]);
      return (args, io) => run(args, systemClientDeps(io));
    },
  };
}

/**
 * Every command, loaded lazily: `tether status` never imports the server (fastify, SQLite, argon2, Cedar), so it
 * starts in a fraction of the time, and the client's modules stay apart from the server's
 * (src/cli/client-boundary.test.ts walks the static imports from here). The summaries are each command's own;
 * src/cli/main.test.ts checks they agree.
 */
export const COMMANDS: Record<string, Entry> = {
  serve: {
    summary: 'run the authorization server (tether serve --dev for the demo tenant)',
    load: async () => {
      const { serveCommand } = await import('./commands/serve.js');
      return (args, io) => serveCommand(args, { io });
    },
  },
  'hash-password': {
    summary: 'hash a password (prompted without echo, or from standard input) for a config file',
    load: async () => {
      const { hashPasswordCommand } = await import('./commands/hash-password.js');
      return (args, io) => hashPasswordCommand(args, { io });
    },
  },
  audit: {
    summary: 'query, verify, trace and export the tamper-evident audit log',
    load: async () => (await import('./commands/audit.js')).auditCommand,
  },
  admin: {
    summary: 'revoke grants (by grant, user, device key, client, or all) and list revocations',
    load: async () => (await import('./commands/admin.js')).adminCommand,
  },
  login: client('sign in with the device flow (code, link, QR); secrets go to the keychain or the agent', async () => (await import('./commands/login.js')).loginCommand),
  status: client('who is signed in, where, for what, until when, with which key and secret store', async () => (await import('./commands/status.js')).statusCommand),
  exec: client('run a command whose requests to the API get a token and DPoP proof through a local proxy', async () => (await import('./commands/exec.js')).execCommand),
  token: client(
    "print a workload's short-lived DPoP-bound token, only with --print (CI; prefer tether exec --workload)",
    async () => (await import('./commands/token.js')).tokenCommand,
  ),
  request: client('make one authenticated call to the API (like curl), for scripts', async () => (await import('./commands/request.js')).requestCommand),
  device: client("this machine's device key: enroll it, see its trust", async () => (await import('./commands/device.js')).deviceCommand),
  logout: client('revoke the session at the server and wipe it here', async () => (await import('./commands/logout.js')).logoutCommand),
  workload: client(
    'create, list, suspend, resume, delete and re-key your workload identities (docs/workloads.md)',
    async () => (await import('./commands/workload.js')).workloadCommand,
  ),
  agent: {
    summary: 'run, start or stop the in-memory secret agent',
    load: async () => {
      const { agentCommand } = await import('./commands/agent.js');
      return (args, io) => agentCommand(args, { io });
    },
  },
  keys: {
    summary: "rotate the server's signing keys (publish ahead, retire after the longest token)",
    load: async () => (await import('./commands/keys.js')).keysCommand,
  },
  policy: {
    summary: 'validate policies and test a decision against them (policy authors)',
    load: async () => (await import('./commands/policy.js')).policyCommand,
  },
  gateway: {
    summary: 'put the guard in front of an existing HTTP API (reverse proxy)',
    load: async () => (await import('./commands/gateway.js')).gatewayCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 3;
  const rows = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)} ${entry.summary}`);
  return `Usage: tether <command> [options]

Commands:
${rows.join('\n')}

Run 'tether <command> --help' for a command's options; 'tether --version' for the version.`;
}

/** The `tether` binary: dispatches to a command and returns its exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`tether ${cliVersion()}\n`);
    return ExitCode.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(`${usage()}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    io.stderr.write(`tether: unknown command '${name}'\n\n${usage()}\n`);
    return ExitCode.usage;
  }
  try {
    const run = await entry.load();
    return await run(rest, io);
  } catch (error) {
    // Never a stack trace at the user: say what failed, briefly.
    io.stderr.write(`tether ${name}: ${(error as Error).message}\n`);
    return ExitCode.failure;
  }
}
