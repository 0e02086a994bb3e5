import type { CliIO } from '../io.js';
import { agentCommand } from './agent.js';
import { systemClientDeps } from './client-deps.js';
import { execCommand } from './exec.js';
import { loginCommand } from './login.js';
import { logoutCommand } from './logout.js';
import { requestCommand } from './request.js';
import { statusCommand } from './status.js';
import { workloadCommand } from './workload.js';

/** The engineer-facing client commands, registered in main.ts beside the server's. */
export const CLIENT_COMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = {
  login: (args, io) => loginCommand(args, systemClientDeps(io)),
  status: (args, io) => statusCommand(args, systemClientDeps(io)),
  exec: (args, io) => execCommand(args, systemClientDeps(io)),
  request: (args, io) => requestCommand(args, systemClientDeps(io)),
  logout: (args, io) => logoutCommand(args, systemClientDeps(io)),
  agent: agentCommand,
  workload: (args, io) => workloadCommand(args, systemClientDeps(io)),
};

export const CLIENT_USAGE = `  login           sign in with the device flow (code, link, QR); secrets go to the keychain or the agent
  status          who is signed in, where, for what, until when, with which key and secret store
  exec            run a command whose requests to the API get a token and DPoP proof through a local proxy
  request         make one authenticated call to the API (like curl), for scripts
  logout          revoke the session at the server and wipe it here
  agent           run, start or stop the in-memory secret agent
  workload        create, list, suspend, resume, delete and re-key your workload identities (docs/workloads.md)`;
