import { adminCommand } from './commands/admin.js';
import { CLIENT_COMMANDS, CLIENT_USAGE } from './commands/client-commands.js';
import { auditCommand } from './commands/audit.js';
import { hashPasswordCommand } from './commands/hash-password.js';
import { serveCommand } from './commands/serve.js';
import { ExitCode, processIO, type CliIO } from './io.js';

const COMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = {
  serve: serveCommand,
  'hash-password': hashPasswordCommand,
  admin: (args, io) => adminCommand(args, io),
  keys: async (args, io) => (await import('./commands/keys.js')).keysCommand(args, io),
  ...CLIENT_COMMANDS,
  audit: (args, io) => auditCommand(args, io),
  policy: async (args, io) => (await import('./commands/policy.js')).policyCommand(args, io),
  gateway: async (args, io) => (await import('./commands/gateway.js')).gatewayCommand(args, io),
};

const USAGE = `Usage: tether <command> [options]

Commands:
  serve           run the authorization server (tether serve --dev for the demo tenant)
  hash-password   hash a password from standard input for a config file
  audit           query, verify, trace and export the tamper-evident audit log
  admin           revoke grants (by grant, user, device key, client, or all) and list revocations
  keys            rotate the server's signing keys (publish ahead, retire after the longest token)
${CLIENT_USAGE}
  policy          validate policies and test a decision against them (policy authors)
  gateway         put the guard in front of an existing HTTP API (reverse proxy)

Run 'tether <command> --help' for a command's options.`;

/** The `tether` binary: dispatches to a command and returns its exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`tether: unknown command '${name}'\n\n${USAGE}\n`);
    return ExitCode.usage;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    // Never a stack trace at the user: say what failed, briefly.
    io.stderr.write(`tether ${name}: ${(error as Error).message}\n`);
    return ExitCode.failure;
  }
}
