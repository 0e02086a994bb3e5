import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const GUARD = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(GUARD, '..');
/** Shared protocol code the guard may use; nothing else of the server. */
const SHARED = ['dpop/jws.ts', 'dpop/proof-verifier.ts', 'dpop/replay-cache.ts', 'events/security-event.ts', 'shared/clock.ts'];
/**
 * Request-time policy: the guard asks the same Cedar engine, with the same schema, as the server, so one policy set
 * decides alike in both. src/policy/ may be loaded, and from it only these pure helpers (no I/O, no state) and
 * Cedar itself, which only policy/cedar.ts binds. Anything else a policy module loads (the server's OAuth errors,
 * zod for context files) must stay out of what the guard reaches.
 */
const POLICY_HELPERS = ['shared/duration.ts', 'verification/network.ts'];
const POLICY_PACKAGES: Readonly<Record<string, string>> = { '@cedar-policy/cedar-wasm/nodejs': 'policy/cedar.ts' };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Specifiers a file loads at run time: `import type` and `export type` vanish when compiled. */
function runtimeImports(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/^(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gms)) {
    if (!match[2]) out.push(match[3] as string);
  }
  for (const match of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(match[1] as string);
  return out;
}

test('the guard loads nothing of the server: itself, shared protocol code, the policy engine and node built-ins', () => {
  const problems: string[] = [];
  // Everything reachable from the guard's files, followed through src/policy/.
  const seen = new Set<string>();
  const queue = sources(GUARD).map((file) => relative(SRC, file));
  while (queue.length > 0) {
    const where = queue.shift() as string;
    if (seen.has(where)) continue;
    seen.add(where);
    for (const specifier of runtimeImports(readFileSync(join(SRC, where), 'utf8'))) {
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('.')) {
        if (POLICY_PACKAGES[specifier] !== where) problems.push(`${where} loads the package ${specifier}`);
        continue;
      }
      const target = relative(SRC, resolve(dirname(join(SRC, where)), specifier)).replace(/\.js$/, '.ts');
      if (target.startsWith('guard/')) continue;
      if (SHARED.includes(target)) continue;
      const fromPolicy = where.startsWith('policy/') || where.startsWith('guard/');
      if (target.startsWith('policy/') && fromPolicy) queue.push(target);
      else if (POLICY_HELPERS.includes(target) && where.startsWith('policy/')) queue.push(target);
      else problems.push(`${where} loads ${target}`);
    }
  }
  assert.deepEqual(problems, []);
  // The point of the rule: none of the server's configuration, storage, HTTP or OAuth error code is reached.
  assert.deepEqual([...seen].filter((f) => /^(config|storage|http|oauth)\//.test(f)), []);
});

test('the shared files the guard uses load only node built-ins and each other, the policy helpers only node built-ins', () => {
  for (const file of SHARED) {
    const loads = runtimeImports(readFileSync(join(SRC, file), 'utf8'))
      .filter((specifier) => !specifier.startsWith('node:'))
      .map((specifier) => relative(SRC, resolve(dirname(join(SRC, file)), specifier)).replace(/\.js$/, '.ts'));
    assert.deepEqual(loads.filter((target) => !SHARED.includes(target)), [], file);
  }
  for (const file of POLICY_HELPERS) {
    assert.deepEqual(runtimeImports(readFileSync(join(SRC, file), 'utf8')).filter((s) => !s.startsWith('node:')), [], file);
  }
});
