// Optional per-phase CPU profiles of Tether (BENCH_PROFILE=DIR): the server runs with --inspect on a free port and
// each timed phase is wrapped in Profiler.start/stop over the DevTools protocol, so untimed work (approvals,
// sign-ins) stays out of the profile. Needs a WebSocket client: Node 22+, or Node 20 with --experimental-websocket.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PROFILE_DIR = process.env['BENCH_PROFILE'];

/**
 * Called by a bench's entry point, so a missing WebSocket is said at once, not after the minutes of setup before
 * the first profiled phase. Not at import: child processes (guard-bench's, which profile with --cpu-prof) import
 * this module through servers.mjs with BENCH_PROFILE in their environment and no WebSocket of their own.
 */
export function requireProfilerSupport() {
  if (PROFILE_DIR && typeof WebSocket === 'undefined') {
    console.error('BENCH_PROFILE needs a WebSocket client: use Node 22+, or run this bench with node --experimental-websocket.');
    process.exit(2);
  }
}

export async function connectProfiler(inspectPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const waiting = new Map();
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    waiting.get(data.id)?.(data.result);
    waiting.delete(data.id);
  };
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const n = ++id;
      waiting.set(n, resolve);
      socket.send(JSON.stringify({ id: n, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 200 });
  return {
    /** Runs `work` with the profiler on and writes DIR/NAME.cpuprofile. */
    async around(name, work) {
      await call('Profiler.start');
      try {
        return await work();
      } finally {
        const { profile } = await call('Profiler.stop');
        mkdirSync(PROFILE_DIR, { recursive: true });
        writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
      }
    },
    close: () => socket.close(),
  };
}
