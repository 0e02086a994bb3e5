import { defineCommand, UsageError, type CommandContext } from '../command.js';
import { cliPaths } from '../config/paths.js';
import { ExitCode, type CliIO } from '../io.js';
import { AgentClient } from '../secrets/agent-client.js';
import { ensureAgent, spawnAgentProcess } from '../secrets/agent-launcher.js';
import { AgentAlreadyRunningError, AgentServer } from '../secrets/agent-server.js';
import { parseDuration } from '../../shared/duration.js';
import { reportFailure } from './session.js';

/** An hour matches the server's default grant idle timeout: an idle session is dead there by then anyway. */
export const DEFAULT_AGENT_IDLE = '1h';

const USAGE = `Usage: tether agent [run|start|stop] [--socket PATH] [--idle-timeout DURATION]

The in-memory secret agent, in the manner of ssh-agent: holds DPoP keys (generated inside it, never exported)
and session tokens, serves them to your own processes over a Unix socket (mode 0600, in a 0700 folder), and
forgets everything when it exits or after --idle-timeout without use (default ${DEFAULT_AGENT_IDLE}).
tether login starts one when no OS keychain answers.

  run     run in the foreground (what tether login starts in the background)
  start   start one in the background unless one is running
  stop    stop the running agent; every secret it held is gone

Socket: $TETHER_AGENT_SOCK, else $XDG_RUNTIME_DIR/tether/agent.sock, else a per-user folder under the temp dir.`;

/** `tether agent`: run, start or stop the secret agent. */
export const agentCommand = defineCommand({
  name: 'agent',
  summary: 'run, start or stop the in-memory secret agent',
  usage: USAGE,
  options: { socket: { type: 'string' }, 'idle-timeout': { type: 'string', default: DEFAULT_AGENT_IDLE } },
  positionals: true,
  run: async ({ values, positionals }, { io }: CommandContext) => {
    const [sub = 'run', ...extra] = positionals;
    if (sub === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const socketPath = values.socket ?? cliPaths(io.env).agentSocket;
    const idle = parseDuration(values['idle-timeout']);
    if (idle === undefined || idle < 1) {
      throw new UsageError('--idle-timeout takes a duration such as 30m or 2h');
    }
    try {
      switch (sub) {
        case 'run':
          return await runAgent(io, socketPath, idle);
        case 'start': {
          const client = new AgentClient(socketPath);
          const state = await ensureAgent(client, spawnAgentProcess());
          io.stderr.write(`tether agent ${state === 'running' ? 'already running' : 'started'} at ${socketPath}\n`);
          return ExitCode.ok;
        }
        case 'stop': {
          const client = new AgentClient(socketPath);
          if ((await client.ping()) === undefined) {
            io.stderr.write(`No tether agent is running at ${socketPath}.\n`);
            return ExitCode.ok;
          }
          await client.request({ op: 'stop' });
          io.stderr.write('tether agent stopped; every secret it held is gone.\n');
          return ExitCode.ok;
        }
        default:
          throw new UsageError(`unknown subcommand ${sub}`);
      }
    } catch (error) {
      if (error instanceof UsageError) throw error;
      return reportFailure(io, 'agent', error);
    }
  },
});

async function runAgent(io: CliIO, socketPath: string, idleSeconds: number): Promise<number> {
  let agent: AgentServer;
  try {
    agent = await AgentServer.listen({ socketPath, idleTimeoutMs: idleSeconds * 1000 });
  } catch (error) {
    if (error instanceof AgentAlreadyRunningError) {
      io.stderr.write(`tether agent: ${error.message}\n`);
      return ExitCode.ok;
    }
    throw error;
  }
  process.title = 'tether-agent';
  const stop = () => void agent.close('closed');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  io.stderr.write(`tether agent listening on ${socketPath}; it forgets everything when it stops or after ${idleSeconds}s without use.\n`);
  const reason = await agent.stopped;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  process.off('SIGHUP', stop);
  io.stderr.write(`tether agent stopped (${reason === 'idle' ? 'idle timeout' : reason}); nothing it held remains.\n`);
  return ExitCode.ok;
}
