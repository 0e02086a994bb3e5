import { parseArgs } from 'node:util';
import { InMemoryClientKey } from '../auth/dpop-key.js';
import { ExitCode } from '../io.js';
import { AuthorizedSender } from '../proxy/authorized-sender.js';
import { startResourceProxy } from '../proxy/resource-proxy.js';
import type { ClientDeps } from '../commands/client-deps.js';
import { reportFailure } from '../commands/session.js';
import { childEnvironment, runChild } from '../commands/exec.js';
import { WorkloadTokenSource } from './workload-token-source.js';

export const WORKLOAD_EXEC_USAGE = `Usage: tether exec --workload NAME --issuer URL --resource URL [--audience AUD]
                   [--token-file PATH | --token-env NAME] [--scope S] -- CMD [ARGS...]

In CI: runs CMD behind the same loopback proxy as tether exec, with tokens of workload NAME (docs/workloads.md)
instead of a person's session. Each token comes from exchanging the CI platform's own OIDC token (GitHub Actions'
request URL and token, GitLab's id token in TETHER_ID_TOKEN or --token-env, a Kubernetes token file) with a
DPoP proof by a key made in memory for this run. Nothing is written to disk; CMD never holds a token.`;

/** `tether exec --workload NAME -- CMD`: a workload's credentials by proxy, from the CI platform's identity. */
export async function workloadExecCommand(args: string[], deps: ClientDeps): Promise<number> {
  const { io } = deps;
  const split = args.indexOf('--');
  const ours = split < 0 ? args : args.slice(0, split);
  const [command, ...commandArgs] = split < 0 ? [] : args.slice(split + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: ours,
      options: {
        workload: { type: 'string' },
        issuer: { type: 'string' },
        resource: { type: 'string' },
        audience: { type: 'string' },
        'token-file': { type: 'string' },
        'token-env': { type: 'string' },
        scope: { type: 'string' },
      },
    }));
  } catch (error) {
    io.stderr.write(`tether exec: ${(error as Error).message}\n\n${WORKLOAD_EXEC_USAGE}\n`);
    return ExitCode.usage;
  }
  const issuer = (values.issuer ?? io.env['TETHER_ISSUER'])?.replace(/\/+$/, '');
  if (!values.workload || !issuer || !values.resource || command === undefined) {
    io.stderr.write(`tether exec: --workload needs --issuer (or TETHER_ISSUER), --resource and a command after --\n\n${WORKLOAD_EXEC_USAGE}\n`);
    return ExitCode.usage;
  }
  let proxy;
  try {
    // Not extractable: not even this process can write the private half anywhere.
    const { key } = await InMemoryClientKey.generate({ extractable: false });
    const tokens = new WorkloadTokenSource({
      tokenEndpoint: `${issuer}/token`,
      workload: values.workload,
      resource: values.resource,
      key,
      fetch: deps.fetch,
      nonces: deps.nonces,
      env: io.env,
      ci: {
        ...(values.audience ? { audience: values.audience } : {}),
        ...(values['token-file'] ? { tokenFile: values['token-file'] } : {}),
        ...(values['token-env'] ? { tokenEnv: values['token-env'] } : {}),
      },
      now: () => Math.floor(Date.now() / 1000),
      ...(values.scope ? { scope: values.scope } : {}),
    });
    // Fail before CMD starts when the exchange is refused.
    await tokens.accessToken();
    const sender = new AuthorizedSender({ fetch: deps.fetch, tokens, key, nonces: deps.nonces });
    proxy = await startResourceProxy({ resource: values.resource, sender, fetch: deps.fetch, onProblem: (m) => io.stderr.write(`tether exec: ${m}\n`) });
    return await runChild(deps, command, commandArgs, childEnvironment(io.env, values.resource, proxy));
  } catch (error) {
    return reportFailure(io, 'exec', error);
  } finally {
    await proxy?.close();
  }
}
