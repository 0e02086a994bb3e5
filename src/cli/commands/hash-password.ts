import { defineCommand, UsageError, type CommandContext } from '../command.js';
import { ExitCode } from '../io.js';
import { PromptCancelled, promptHidden } from '../ui/secret-prompt.js';

const USAGE = `Usage: tether hash-password

Prints the argon2id hash of a password, for the users of a config file (docs/configuration.md).
On a terminal it asks twice, without showing what you type; otherwise it reads the password from standard
input (echo "$PW" | tether hash-password). Never from arguments: they land in shell history.`;

/** At least this long: the dev tenant and a config file's users are guarded by nothing else. */
const MIN_LENGTH = 8;

/** `tether hash-password`: a password in (prompted or piped), its argon2id hash out. */
export const hashPasswordCommand = defineCommand({
  name: 'hash-password',
  summary: 'hash a password (prompted without echo, or from standard input) for a config file',
  usage: USAGE,
  options: {},
  run: async (_input, { io }: CommandContext) => {
    let password: string;
    if ((io.stdin as { isTTY?: boolean }).isTTY) {
      try {
        password = await promptHidden(io.stdin, io.stderr, 'Password: ');
        if (password.length >= MIN_LENGTH && (await promptHidden(io.stdin, io.stderr, 'Again: ')) !== password) {
          io.stderr.write('tether hash-password: the two passwords differ; nothing was hashed\n');
          return ExitCode.failure;
        }
      } catch (error) {
        if (error instanceof PromptCancelled) return ExitCode.interrupted;
        throw error;
      }
    } else {
      const chunks: Buffer[] = [];
      for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
      password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    }
    if (password.length < MIN_LENGTH) throw new UsageError(`give a password of at least ${MIN_LENGTH} characters`);
    // Loaded here, not at the top: argon2's native module is the server's, and --help should not pay for it.
    const { hashPassword } = await import('../../users/password.js');
    io.stdout.write(`${await hashPassword(password)}\n`);
    return ExitCode.ok;
  },
});
