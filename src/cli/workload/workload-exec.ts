import { InMemoryClientKey, type ClientKey } from '../auth/dpop-key.js';
import { UsageError } from '../command.js';
import type { ClientDeps } from '../commands/client-deps.js';
import { WorkloadTokenSource } from './workload-token-source.js';

export const WORKLOAD_EXEC_USAGE = `In CI: tether exec --workload NAME --issuer URL --resource URL [--audience AUD]
                   [--token-file PATH | --token-env NAME] [--scope S] -- CMD [ARGS...]

Runs CMD behind the same loopback proxy, with tokens of workload NAME (docs/workloads.md) instead of a person's
session. Each token comes from exchanging the CI platform's own OIDC token (GitHub Actions' request URL and token,
GitLab's id token in TETHER_ID_TOKEN or --token-env, a Kubernetes token file) with a DPoP proof by a key made in
memory for this run. Nothing is written to disk; CMD never holds a token.`;

/** The flags of `tether exec --workload`. */
export interface WorkloadExecOptions {
  workload: string;
  issuer?: string | undefined;
  resource?: string | undefined;
  audience?: string | undefined;
  'token-file'?: string | undefined;
  'token-env'?: string | undefined;
  scope?: string | undefined;
}

/** What `tether exec` needs to run CMD as a workload: where to send, and the tokens and key to send with. */
export interface WorkloadSession {
  resource: string;
  key: ClientKey;
  tokens: WorkloadTokenSource;
}

/**
 * Opens a workload's session in CI: an in-memory, non-extractable DPoP key and a token source that exchanges the
 * platform's OIDC token for a workload token. The first exchange happens here, so a refused workload fails before
 * CMD starts.
 */
export async function openWorkloadSession(options: WorkloadExecOptions, deps: ClientDeps): Promise<WorkloadSession> {
  const { io } = deps;
  const issuer = (options.issuer ?? io.env['TETHER_ISSUER'])?.replace(/\/+$/, '');
  const resource = options.resource;
  if (!issuer || !resource) throw new UsageError('--workload needs --issuer (or TETHER_ISSUER) and --resource');
  // Not extractable: not even this process can write the private half anywhere.
  const { key } = await InMemoryClientKey.generate({ extractable: false });
  const tokens = new WorkloadTokenSource({
    tokenEndpoint: `${issuer}/token`,
    workload: options.workload,
    resource,
    key,
    fetch: deps.fetch,
    nonces: deps.nonces,
    env: io.env,
    ci: {
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options['token-file'] ? { tokenFile: options['token-file'] } : {}),
      ...(options['token-env'] ? { tokenEnv: options['token-env'] } : {}),
    },
    now: () => Math.floor(Date.now() / 1000),
    ...(options.scope ? { scope: options.scope } : {}),
  });
  await tokens.accessToken();
  return { resource, key, tokens };
}
