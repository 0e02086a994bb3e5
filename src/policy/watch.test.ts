import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PolicyEngine } from './engine.js';
import { PolicyLoadError, PolicySourceError } from './errors.js';
import type { ApiRequestInput } from './types.js';
import { watchPolicies, type PolicyLogger, type ReloadOutcome } from './watch.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-policy-'));
  dirs.push(dir);
  return dir;
}

const request: ApiRequestInput = {
  step: 'api',
  now: 1_800_000_000,
  client: { id: 'tether-cli' },
  resource: { uri: 'https://api.example.com', tier: 'low' },
  device: { jkt: null, class: 'unmanaged', enrolled: false },
  scopes: [],
  subject: { kind: 'user', id: 'alice', groups: [] },
  method: 'GET',
  path: '/',
  origin: { ip: '127.0.0.1' },
  tokenIssuedAt: 1_800_000_000,
};

const ALLOW = '@id("open") permit (principal, action, resource);\n';
const DENY = '@id("closed") forbid (principal, action, resource);\npermit (principal, action, resource);\n';

/**
 * Collects reload outcomes and log lines. `until(check)` waits for the first reload that passes `check`: a plain
 * write can reach the watcher as truncate-then-write, and a reload caught in between rightly refuses the empty
 * file, so a test waits for the outcome of the final state rather than for the next event.
 */
function recorder() {
  const outcomes: ReloadOutcome[] = [];
  const waiting: ((o: ReloadOutcome) => void)[] = [];
  const logs: { level: string; msg: string; obj: object }[] = [];
  const logger: PolicyLogger = {
    info: (obj, msg) => logs.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => logs.push({ level: 'error', msg, obj }),
  };
  return {
    logs,
    logger,
    onReload: (o: ReloadOutcome) => {
      const w = waiting.shift();
      if (w) w(o);
      else outcomes.push(o);
    },
    until: async (check: (o: ReloadOutcome) => boolean): Promise<ReloadOutcome> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const ready = outcomes.shift();
        const o =
          ready ??
          (await new Promise<ReloadOutcome>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no matching reload within 5 s')), Math.max(0, deadline - Date.now()));
            waiting.push((x) => {
              clearTimeout(timer);
              resolve(x);
            });
          }));
        if (check(o)) return o;
      }
    },
  };
}

test('a changed policy file is reloaded without a restart; a bad change is refused, logged, and the old set kept', async () => {
  const dir = await tempDir();
  const file = join(dir, 'tether.cedar');
  await writeFile(file, ALLOW);
  const engine = new PolicyEngine();
  const r = recorder();
  const watcher = await watchPolicies(engine, file, { debounceMs: 50, logger: r.logger, onReload: r.onReload });
  try {
    assert.deepEqual(engine.decide(request).reasons, ['open']);

    await writeFile(file, DENY);
    await r.until((o) => o.status === 'loaded');
    assert.deepEqual(engine.decide(request).reasons, ['closed']);

    await writeFile(file, 'forbid (principal, action, resource) when { context.nope };');
    await r.until((o) => o.status === 'refused' && o.error.code === 'policy_invalid');
    assert.deepEqual(engine.decide(request).reasons, ['closed'], 'the previous set is still in force');
    const logged = r.logs.find((l) => l.level === 'error' && (l.obj as { code?: string }).code === 'policy_invalid');
    assert.match(logged?.msg ?? '', /refused; the previous policies stay in force/);

    // Editors and deploy tools replace a file by renaming a new one over it.
    await writeFile(join(dir, 'tether.cedar.tmp'), ALLOW);
    await rename(join(dir, 'tether.cedar.tmp'), file);
    await r.until((o) => o.status === 'loaded');
    assert.deepEqual(engine.decide(request).reasons, ['open']);
    assert.equal(engine.loaded?.generation, 3);
  } finally {
    watcher.close();
  }
});

test('a policy directory reloads when a .cedar file is added; an unchanged set is not reloaded', async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'a-base.cedar'), ALLOW);
  await writeFile(join(dir, 'notes.txt'), 'not a policy');
  const engine = new PolicyEngine();
  const r = recorder();
  const watcher = await watchPolicies(engine, dir, { debounceMs: 50, onReload: r.onReload });
  try {
    assert.equal(engine.loaded?.policies.length, 1);
    await writeFile(join(dir, 'b-night.cedar'), '@id("closed") forbid (principal, action, resource);');
    // (Created empty, then written: the empty moment is refused, so only the full file is ever in force.)
    await r.until((o) => o.status === 'loaded');
    assert.deepEqual(engine.loaded?.policies.map((p) => `${p.source}:${p.id}`), ['a-base.cedar:open', 'b-night.cedar:closed']);

    await writeFile(join(dir, 'b-night.cedar'), '@id("closed") forbid (principal, action, resource);');
    await r.until((o) => o.status === 'unchanged');
    assert.equal(engine.loaded?.generation, 2);

    await writeFile(join(dir, 'b-night.cedar'), '');
    await r.until((o) => o.status === 'refused' && o.error.code === 'policy_empty');
    assert.deepEqual(engine.decide(request).reasons, ['closed'], 'an emptied file does not drop its forbid');
  } finally {
    watcher.close();
  }
});

test('the first load must succeed: a bad or missing set stops start-up', async () => {
  const dir = await tempDir();
  const file = join(dir, 'bad.cedar');
  await writeFile(file, 'permit (principal, action, resource) when {');
  await assert.rejects(watchPolicies(new PolicyEngine(), file), (e: unknown) => e instanceof PolicyLoadError && e.code === 'policy_syntax');
  await assert.rejects(watchPolicies(new PolicyEngine(), join(dir, 'missing.cedar')), PolicySourceError);
  await assert.rejects(watchPolicies(new PolicyEngine(), await tempDir()), (e: unknown) => e instanceof PolicyLoadError && e.code === 'policy_empty');
});
