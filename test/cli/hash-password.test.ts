import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPasswordCommand } from '../../src/cli/commands/hash-password.js';
import { ExitCode, type CliIO } from '../../src/cli/io.js';
import { verifyPassword } from '../../src/users/password.js';
import { Captured, FakeStdin } from './harness.js';

function terminal() {
  const stdin = new FakeStdin(true);
  const stdout = new Captured(true);
  const stderr = new Captured(true);
  const io: CliIO = { stdin, stdout, stderr, env: {} };
  return { io, stdin, stdout, stderr };
}

/** Types into the fake terminal once the prompt is up, one keystroke at a time as a person would. */
async function type(t: ReturnType<typeof terminal>, prompt: RegExp, keys: string) {
  while (!prompt.test(t.stderr.text)) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const key of keys) t.stdin.write(key);
}

test('on a terminal: asks twice without echo (raw mode, Backspace works), prints only the hash', async () => {
  const t = terminal();
  const run = hashPasswordCommand([], { io: t.io });
  await type(t, /Password: $/, 'correct horsX\x7fe battery\r');
  assert.equal(t.stdin.rawMode, true, 'raw mode while typing');
  await type(t, /Again: $/, 'correct horse battery\r');
  assert.equal(await run, ExitCode.ok, t.stderr.text);
  assert.equal(t.stdin.rawMode, false, 'the terminal is restored');
  assert.doesNotMatch(t.stderr.text + t.stdout.text, /correct|horse|battery/, 'nothing typed is shown');
  const hash = t.stdout.text.trim();
  assert.match(hash, /^\$argon2id\$/);
  assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
});

test('on a terminal: two different answers hash nothing; Ctrl-C ends with 130', async () => {
  const t = terminal();
  const run = hashPasswordCommand([], { io: t.io });
  await type(t, /Password: $/, 'first password\r');
  await type(t, /Again: $/, 'second password\r');
  assert.equal(await run, ExitCode.failure);
  assert.equal(t.stdout.text, '');
  const c = terminal();
  const cancelled = hashPasswordCommand([], { io: c.io });
  await type(c, /Password: $/, 'abc\x03');
  assert.equal(await cancelled, ExitCode.interrupted);
  assert.equal(c.stdin.rawMode, false);
});

test('piped: reads standard input; too short is a usage error; --help prints the usage', async () => {
  const stdin = new FakeStdin(false);
  const stdout = new Captured();
  const stderr = new Captured();
  const run = hashPasswordCommand([], { io: { stdin, stdout, stderr, env: {} } });
  stdin.end('piped password\n');
  assert.equal(await run, ExitCode.ok);
  assert.equal(await verifyPassword(stdout.text.trim(), 'piped password'), true);

  const short = new FakeStdin(false);
  const err = new Captured();
  const shortRun = hashPasswordCommand([], { io: { stdin: short, stdout: new Captured(), stderr: err, env: {} } });
  short.end('short\n');
  assert.equal(await shortRun, ExitCode.usage);
  assert.match(err.text, /at least 8 characters/);

  const help = new Captured();
  assert.equal(await hashPasswordCommand(['--help'], { io: { stdin: new FakeStdin(), stdout: help, stderr: new Captured(), env: {} } }), ExitCode.ok);
  assert.match(help.text, /Usage: tether hash-password/);
});
