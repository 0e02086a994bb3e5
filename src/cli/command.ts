import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExitCode, type CliIO } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O extends Options> = O & { help: { type: 'boolean'; short: 'h'; default: false } };
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: WithHelp<O>; allowPositionals: true; strict: true }>>;

/** The command line was wrong: printed with the command's usage, exit code 2 (docs/cli.md). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What every command touches: at least the process streams and environment. */
export interface CommandContext {
  io: CliIO;
}

/** One command's whole shape: its name, a line for `tether --help`, its usage text, its flags and its body. */
export interface CommandSpec<O extends Options, C extends CommandContext> {
  /** As typed after `tether`, e.g. `status` or `admin revoke`. */
  name: string;
  /** One line, shown by `tether --help`. */
  summary: string;
  /** Shown by `--help` (on stdout, exit 0) and after a usage error (on stderr, exit 2). */
  usage: string;
  options: O;
  /** Whether words that are not flags are accepted (default: no). */
  positionals?: boolean;
  /**
   * Everything from the first word that is not one of our flags (or after `--`) is passed through untouched as
   * positionals, so a wrapped command's own flags (`tether exec curl -s …`) are never read as ours.
   */
  passThrough?: boolean;
  run(input: { values: Parsed<O>['values']; positionals: string[] }, context: C): Promise<number>;
}

/** A defined command: call it with the arguments after its name; it parses, answers `--help` and runs. */
export interface Command<C extends CommandContext> {
  (args: string[], context: C): Promise<number>;
  /** As typed after `tether`. */
  readonly command: string;
  readonly summary: string;
  readonly usage: string;
}

function command<C extends CommandContext>(
  spec: { name: string; summary: string; usage: string },
  run: (args: string[], context: C) => Promise<number>,
): Command<C> {
  return Object.assign(run, { command: spec.name, summary: spec.summary, usage: spec.usage });
}

/**
 * Defines a command. Parsing (node:util parseArgs, strict), `--help`/`-h`, and the usage error path live here,
 * once, so every command answers them alike: bad flags and {@link UsageError} exit 2 with the usage.
 */
export function defineCommand<O extends Options, C extends CommandContext>(spec: CommandSpec<O, C>): Command<C> {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h', default: false } } as WithHelp<O>;
  return command(spec, async (args, context) => {
    const { io } = context;
    const [own, passed] = spec.passThrough ? splitPassThrough(args, options) : [args, undefined];
    let parsed: Parsed<O>;
    try {
      parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true });
    } catch (error) {
      return usageError(io, spec, (error as Error).message);
    }
    if (passed) parsed.positionals.push(...passed);
    if ((parsed.values as { help?: boolean }).help) {
      io.stdout.write(`${spec.usage}\n`);
      return ExitCode.ok;
    }
    if (!spec.positionals && !spec.passThrough && parsed.positionals.length > 0) {
      return usageError(io, spec, `unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    }
    try {
      return await spec.run({ values: parsed.values, positionals: parsed.positionals }, context);
    } catch (error) {
      if (error instanceof UsageError) return usageError(io, spec, error.message);
      throw error;
    }
  });
}

/** Splits `[our flags] [--] CMD ARGS…` at the first word that is not one of our flags or their values. */
function splitPassThrough(args: string[], options: Options): [string[], string[]] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return [args.slice(0, i), args.slice(i + 1)];
    if (!arg.startsWith('-') || arg === '-') return [args.slice(0, i), args.slice(i)];
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : Object.keys(options).find((k) => options[k]?.short === arg.slice(1));
    const option = name === undefined ? undefined : options[name];
    if (option?.type === 'string' && !arg.includes('=')) i++;
  }
  return [args, []];
}

/**
 * A command made of subcommands (`tether admin revoke`): dispatches on the first word; `--help` or no word
 * prints the group's usage (exit 0); an unknown word is a usage error.
 */
export function defineGroup<C extends CommandContext>(spec: {
  name: string;
  summary: string;
  usage: string;
  subcommands: Record<string, Command<C>>;
}): Command<C> {
  return command(spec, async (args, context) => {
    const [word, ...rest] = args;
    if (word === '--help' || word === '-h' || word === 'help' || word === undefined) {
      context.io.stdout.write(`${spec.usage}\n`);
      return ExitCode.ok;
    }
    const sub = word !== undefined && Object.hasOwn(spec.subcommands, word) ? spec.subcommands[word] : undefined;
    if (!sub) {
      context.io.stderr.write(`tether ${spec.name}: unknown subcommand '${word}'\n\n${spec.usage}\n`);
      return ExitCode.usage;
    }
    return sub(rest, context);
  });
}

function usageError(io: CliIO, spec: { name: string; usage: string }, message: string): number {
  io.stderr.write(`tether ${spec.name}: ${message}\n\n${spec.usage}\n`);
  return ExitCode.usage;
}

/**
 * An `--issuer`-style value: an http(s) URL without trailing slashes. A missing scheme (`auth.example.com`) is a
 * usage error, not a failed request.
 */
export function urlOption(flag: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.host) {
    throw new UsageError(`${flag} must be an http(s) URL such as https://${value.replace(/^[a-z]+:\/*/i, '') || 'auth.example.com'}, not ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

/** A port number from 0 to 65535 (0 picks a free one). */
export function portOption(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag} must be a number from 0 to 65535`);
  return port;
}
