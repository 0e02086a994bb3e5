import { hashPassword } from '../../users/password.js';
import { ExitCode, type CliIO } from '../io.js';

/**
 * `tether hash-password`: reads a password from standard input (never from arguments, which land in shell
 * history) and prints its argon2id hash for a config file's users.
 */
export async function hashPasswordCommand(_args: string[], io: CliIO): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer));
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password.length < 8) {
    io.stderr.write('tether hash-password: give a password of at least 8 characters on standard input\n');
    return ExitCode.usage;
  }
  io.stdout.write(`${await hashPassword(password)}\n`);
  return ExitCode.ok;
}
