import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningBinary {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: string[];
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Starts the built binary (`npm run build` first) with `args` and resolves once it logs "tether listening";
 * rejects if it exits first or takes longer than `timeoutMs`.
 */
export async function startTether(args: string[], env: Record<string, string> = {}, { timeoutMs = 20_000 } = {}): Promise<RunningBinary> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/tether.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TETHER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "tether listening" within ${timeoutMs / 1000} s:\n${output.join('')}`)), timeoutMs);
    lines.on('line', (line) => {
      output.push(line);
      if (output.length > 200) output.splice(0, 100);
      try {
        if ((JSON.parse(line) as { msg?: string }).msg === 'tether listening') {
          clearTimeout(timer);
          resolve();
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tether exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
  return {
    child,
    exited,
    output,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
