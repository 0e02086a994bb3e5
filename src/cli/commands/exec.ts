import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { defineCommand, UsageError } from '../command.js';
import { askServer } from '../auth/own-session.js';
import { sessionExpired, sessionRevoked } from '../auth/token-source.js';
import { ExitCode } from '../io.js';
import { AuthorizedSender } from '../proxy/authorized-sender.js';
import { startResourceProxy } from '../proxy/resource-proxy.js';
import type { ClientDeps } from './client-deps.js';
import { openSession, reportFailure } from './session.js';
import { openWorkloadSession, WORKLOAD_EXEC_USAGE, type WorkloadExecOptions } from '../workload/workload-exec.js';

const USAGE = `Usage: tether exec [--issuer URL] [--resource URL] -- CMD [ARGS...]

Runs CMD with a loopback proxy that adds a current access token and a fresh DPoP proof to every request it sends
to the session's resource, so CMD never holds a token. CMD finds, in its environment:

  TETHER_API_URL   a base URL standing for the resource: $TETHER_API_URL/x is <resource>/x
  TETHER_RESOURCE  the resource itself (for display; calling it directly carries no credentials)
  HTTP_PROXY, http_proxy  (only for an http:// resource) the same proxy for tools that honour them

Exit code: CMD's own; ${ExitCode.commandNotFound} if it cannot be started; ${ExitCode.notSignedIn} if there is no usable session.

${WORKLOAD_EXEC_USAGE}`;

/** `tether exec`: credentials by proxy, never by environment variable. */
export const execCommand = defineCommand({
  name: 'exec',
  summary: 'run a command whose requests to the API get a token and DPoP proof through a local proxy',
  usage: USAGE,
  options: {
    issuer: { type: 'string' },
    resource: { type: 'string' },
    // In CI, a workload's identity instead of a person's session (docs/workloads.md, src/cli/workload/).
    workload: { type: 'string' },
    audience: { type: 'string' },
    'token-file': { type: 'string' },
    'token-env': { type: 'string' },
    scope: { type: 'string' },
  },
  passThrough: true,
  run: async ({ values, positionals }, deps: ClientDeps) => {
    const { io } = deps;
    const [command, ...commandArgs] = positionals;
    if (command === undefined) throw new UsageError('name the command to run after --');
    const workloadOnly = (['audience', 'token-file', 'token-env', 'scope'] as const).find((k) => values[k] !== undefined);
    if (workloadOnly && values.workload === undefined) throw new UsageError(`--${workloadOnly} goes with --workload NAME`);
    if (values.workload !== undefined) return workloadExec({ ...values, workload: values.workload }, command, commandArgs, deps);
    let proxy;
    try {
      const session = await openSession(deps, { issuer: values.issuer, resource: values.resource });
      // Fail before CMD starts, not on its first request, when the session cannot produce a token or the server
      // has revoked it (a still-fresh token says nothing of that; the server's session endpoint does).
      const view = await askServer({ ...deps, key: session.key, tokens: session.tokens, endpoint: session.profile.session_endpoint });
      if (view.state === 'revoked') throw sessionRevoked();
      if (view.state === 'ended') throw sessionExpired();
      if (view.state === 'unknown' || view.state === 'unreachable') await session.tokens.accessToken();
      let warned = false;
      const warnOnce = (message: string) => {
        if (warned) return;
        warned = true;
        io.stderr.write(`tether exec: ${message}\n`);
      };
      const sender = new AuthorizedSender({
        fetch: deps.fetch,
        tokens: session.tokens,
        key: session.key,
        nonces: deps.nonces,
        onSessionEnded: (error) => warnOnce(error.message),
      });
      proxy = await startResourceProxy({ resource: session.profile.resource, sender, fetch: deps.fetch, onProblem: warnOnce });
      const env = childEnvironment(io.env, session.profile.resource, proxy);
      return await runChild(deps, command, commandArgs, env);
    } catch (error) {
      return reportFailure(io, 'exec', error);
    } finally {
      await proxy?.close();
    }
  },
});

/** `tether exec --workload NAME`: a workload's credentials by proxy, from the CI platform's identity. */
async function workloadExec(options: WorkloadExecOptions, command: string, commandArgs: string[], deps: ClientDeps): Promise<number> {
  const { io } = deps;
  let proxy;
  try {
    const session = await openWorkloadSession(options, deps);
    const sender = new AuthorizedSender({ fetch: deps.fetch, tokens: session.tokens, key: session.key, nonces: deps.nonces });
    proxy = await startResourceProxy({ resource: session.resource, sender, fetch: deps.fetch, onProblem: (m) => io.stderr.write(`tether exec: ${m}\n`) });
    return await runChild(deps, command, commandArgs, childEnvironment(io.env, session.resource, proxy));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return reportFailure(io, 'exec', error);
  } finally {
    await proxy?.close();
  }
}

/**
 * CMD's environment: ours, plus the proxy's addresses. For an http resource the usual proxy variables point at
 * the proxy too (and the resource's host is taken out of NO_PROXY, or they would be ignored for it); for https
 * they would only produce CONNECT tunnels we cannot add headers to, so they are left alone.
 */
export function childEnvironment(
  env: NodeJS.ProcessEnv,
  resource: string,
  proxy: { apiUrl: string; proxyUrl: string },
): NodeJS.ProcessEnv {
  const child: NodeJS.ProcessEnv = { ...env, TETHER_API_URL: proxy.apiUrl, TETHER_RESOURCE: resource };
  const url = new URL(resource);
  if (url.protocol === 'http:') {
    child['HTTP_PROXY'] = proxy.proxyUrl;
    child['http_proxy'] = proxy.proxyUrl;
    for (const name of ['NO_PROXY', 'no_proxy']) {
      const value = child[name];
      if (value === undefined) continue;
      const kept = value
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h && h !== url.hostname && h !== url.host);
      child[name] = kept.join(',');
    }
  }
  return child;
}

export async function runChild(deps: ClientDeps, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { io } = deps;
  // Real process streams are handed over directly (so CMD sees the terminal); injected ones are piped.
  const direct = io.stdout === process.stdout && io.stderr === process.stderr;
  const child = spawn(command, args, {
    env,
    stdio: direct ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  if (!direct) {
    child.stdout?.pipe(io.stdout, { end: false });
    child.stderr?.pipe(io.stderr, { end: false });
  }
  // Ctrl-C reaches CMD through the terminal's process group: we stay alive to keep the proxy up while it exits.
  // A signal sent to tether alone (kill, a closing terminal) is passed on, so CMD is never left orphaned.
  const untrap = deps.onInterrupt((signal) => {
    if (signal !== 'SIGINT') child.kill(signal);
  });
  try {
    return await new Promise<number>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => {
        io.stderr.write(`tether exec: cannot run ${command}: ${error.code === 'ENOENT' ? 'command not found' : error.message}\n`);
        resolve(ExitCode.commandNotFound);
      });
      child.once('close', (code, signal) => {
        if (code !== null) resolve(code);
        else resolve(128 + (signal ? (constants.signals[signal] ?? 1) : 1));
      });
    });
  } finally {
    untrap();
  }
}
