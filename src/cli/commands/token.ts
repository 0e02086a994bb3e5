import { defineCommand, UsageError } from '../command.js';
import { readTokenLabels } from '../auth/token-response.js';
import { ExitCode } from '../io.js';
import { openWorkloadSession } from '../workload/workload-exec.js';
import type { ClientDeps } from './client-deps.js';
import { reportFailure } from './session.js';

const USAGE = `Usage: tether token --workload NAME --print --issuer URL --resource URL [--scope S] [--audience AUD]
                    [--token-file PATH | --token-env NAME]

Prints one access token of workload NAME on stdout, for a tool that must hold one itself. Only with --print:
without it nothing is exchanged and nothing is printed (exit 2). Prefer tether exec --workload NAME -- CMD, which
keeps the token out of CMD's hands altogether.

The token is DPoP-bound (RFC 9449) to a key made in this process's memory and never exported, and Tether issues no
Bearer workload tokens: once this command exits, the key is gone and the token is useless for calling an API that
checks DPoP (every Tether guard does). It lives at most workloads.access_token_ttl (5 minutes by default). The
private key is never printed, and nothing is written to disk. A person's token is never printed.

Exit codes: 0 printed; 2 usage (no --print, no --workload); 4 network; 5 the exchange was refused; 9 no CI token.`;

/** `tether token --workload NAME --print`: one workload token on stdout, only when explicitly asked for. */
export const tokenCommand = defineCommand({
  name: 'token',
  summary: "print a workload's short-lived DPoP-bound token, only with --print (CI; prefer tether exec --workload)",
  usage: USAGE,
  options: {
    workload: { type: 'string' },
    print: { type: 'boolean', default: false },
    issuer: { type: 'string' },
    resource: { type: 'string' },
    audience: { type: 'string' },
    'token-file': { type: 'string' },
    'token-env': { type: 'string' },
    scope: { type: 'string' },
  },
  run: async ({ values }, deps: ClientDeps) => {
    const { io } = deps;
    if (values.workload === undefined) {
      throw new UsageError("name the workload with --workload NAME: tether token never prints a person's token (use tether exec or tether request)");
    }
    // Checked before any exchange: asking by accident mints nothing.
    if (!values.print) {
      throw new UsageError('add --print to print the token on stdout; tether exec --workload NAME -- CMD runs CMD without it ever holding one');
    }
    try {
      const session = await openWorkloadSession({ ...values, workload: values.workload }, deps);
      const token = await session.tokens.accessToken();
      const labels = readTokenLabels(token);
      const expiresAt = session.tokens.expiresAt;
      io.stderr.write(
        [
          `tether token: warning: this token of workload ${values.workload} is DPoP-bound to key ${labels.keyThumbprint ?? session.key.jkt},`,
          '  which existed only in this process and is gone when it exits: the token is useless without its proof key,',
          '  and Tether issues no Bearer workload tokens. Use tether exec --workload to call the API with it.',
          ...(expiresAt !== undefined ? [`  It expires at ${new Date(expiresAt * 1000).toISOString()}.`] : []),
          '',
        ].join('\n'),
      );
      io.stdout.write(`${token}\n`);
      return ExitCode.ok;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      return reportFailure(io, 'token', error);
    }
  },
});
