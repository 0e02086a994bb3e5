import { defineCommand, defineGroup, UsageError } from '../command.js';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage:
  tether policy validate [PATH]
      Validate a policy file, or every .cedar file in a directory, against the Tether schema.
      Without PATH, validates the built-in default pack.
  tether policy test --context FILE [--context FILE...] [--policies PATH] [--json]
      Decide the step a context file describes; print the decision, the determining policies,
      the token lifetime and the scopes. Exits 1 when a file's "expect" is not met.
  tether policy schema      print the Cedar schema policies are validated against
  tether policy default     print the default policy pack (a starting point for your own)

Context files and policy writing: docs/policy.md; examples: docs/policy-examples/.`;

/** Injected so tests can fix the clock ("now" in context files). */
export interface PolicyCommandDeps {
  now: () => number;
}

// Imported when needed, not at the top: loading Cedar's WebAssembly takes a noticeable moment (about half a
// second) that the CLI's other commands should not pay.
const authoring = () => import('../../policy/authoring.js');

type PolicyContext = { io: CliIO; deps: PolicyCommandDeps };

const schema = defineCommand({
  name: 'policy schema',
  summary: 'print the Cedar schema policies are validated against',
  usage: USAGE,
  options: {},
  run: async (_input, { io }: PolicyContext) => {
    const { POLICY_SCHEMA } = await import('../../policy/schema.js');
    io.stdout.write(POLICY_SCHEMA);
    return ExitCode.ok;
  },
});

const defaultPack = defineCommand({
  name: 'policy default',
  summary: 'print the default policy pack',
  usage: USAGE,
  options: {},
  run: async (_input, { io }: PolicyContext) => {
    const { DEFAULT_POLICY_PACK } = await import('../../policy/default-pack.js');
    io.stdout.write(DEFAULT_POLICY_PACK);
    return ExitCode.ok;
  },
});

const validate = defineCommand({
  name: 'policy validate',
  summary: 'validate a policy file or directory against the Tether schema',
  usage: USAGE,
  options: {},
  positionals: true,
  run: async ({ positionals }, { io }: PolicyContext) => {
    if (positionals.length > 1) throw new UsageError('name one file or directory');
    const path = positionals[0];
    const policy = await authoring();
    const sources = await sourcesOrReport(policy, path, io);
    if (!sources) return ExitCode.config;
    const report = policy.validateSources(sources, path ?? 'default pack');
    (report.ok ? io.stdout : io.stderr).write(`${report.lines.join('\n')}\n`);
    return report.ok ? ExitCode.ok : ExitCode.config;
  },
});

const testCommand = defineCommand({
  name: 'policy test',
  summary: 'decide the steps context files describe',
  usage: USAGE,
  options: { context: { type: 'string', multiple: true }, policies: { type: 'string' }, json: { type: 'boolean', default: false } },
  run: async ({ values }, { io, deps }: PolicyContext) => {
    const contexts = values.context ?? [];
    if (contexts.length === 0) throw new UsageError('--context FILE is required');
    const policiesPath = values.policies;
    const json = values.json === true;
    const policy = await authoring();
    const sources = await sourcesOrReport(policy, policiesPath, io);
    if (!sources) return ExitCode.config;
    const checked = policy.validateSources(sources, policiesPath ?? 'default pack');
    if (!checked.ok) {
      io.stderr.write(`${checked.lines.join('\n')}\n`);
      return ExitCode.config;
    }
    let failed = false;
    for (const [index, path] of contexts.entries()) {
      let file;
      try {
        file = await policy.readContextFile(path, deps.now());
      } catch (error) {
        io.stderr.write(`tether policy test: ${path}: ${(error as Error).message}\n`);
        return ExitCode.usage;
      }
      const result = policy.testContext(sources, file);
      failed ||= !result.ok;
      if (json) {
        io.stdout.write(`${JSON.stringify({ context: path, ok: result.ok, ...result.decision })}\n`);
      } else {
        io.stdout.write(`${index > 0 ? '\n' : ''}${contexts.length > 1 ? `${path}\n` : ''}${result.lines.join('\n')}\n`);
      }
    }
    return failed ? ExitCode.failure : ExitCode.ok;
  },
});

export const policyCli = defineGroup<PolicyContext>({
  name: 'policy',
  summary: 'validate policies and test a decision against them (policy authors)',
  usage: USAGE,
  subcommands: { schema, default: defaultPack, validate, test: testCommand },
});

/** `tether policy`: tools for policy authors. Never touches a running server. */
export function policyCommand(
  args: string[],
  io: CliIO,
  deps: PolicyCommandDeps = { now: () => Math.floor(Date.now() / 1000) },
): Promise<number> {
  return policyCli(args, { io, deps });
}

type AuthoringModule = typeof import('../../policy/authoring.js');

async function sourcesOrReport(policy: AuthoringModule, path: string | undefined, io: CliIO) {
  try {
    return await policy.policySourcesAt(path);
  } catch (error) {
    io.stderr.write(`tether policy: ${(error as Error).message}\n`);
    return undefined;
  }
}
