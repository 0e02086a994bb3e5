import { PassThrough } from 'node:stream';
import type { CliIO } from '../../src/cli/io.js';

/** A command's IO for tests: `env` as its environment, stdout and stderr kept as text, stdin empty. */
export function captureIo(env: Record<string, string> = {}): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env, out: () => out, err: () => err };
}
