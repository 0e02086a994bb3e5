import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const GUARD = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(GUARD, '..');
/** Shared protocol code the guard may use; nothing else of the server. */
const SHARED = ['dpop/jws.ts', 'dpop/proof-verifier.ts', 'dpop/replay-cache.ts', 'events/security-event.ts', 'shared/clock.ts'];

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

test('the guard loads nothing of the server: only itself, shared protocol code and node built-ins', () => {
  const problems: string[] = [];
  for (const file of sources(GUARD)) {
    for (const specifier of runtimeImports(readFileSync(file, 'utf8'))) {
      const where = relative(SRC, file);
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('.')) {
        problems.push(`${where} loads the package ${specifier}`);
        continue;
      }
      const target = relative(SRC, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts');
      if (!target.startsWith('guard/') && !SHARED.includes(target)) problems.push(`${where} loads ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the shared files the guard uses load only node built-ins and each other', () => {
  for (const file of SHARED) {
    const loads = runtimeImports(readFileSync(join(SRC, file), 'utf8'))
      .filter((specifier) => !specifier.startsWith('node:'))
      .map((specifier) => relative(SRC, resolve(dirname(join(SRC, file)), specifier)).replace(/\.js$/, '.ts'));
    assert.deepEqual(loads.filter((target) => !SHARED.includes(target)), [], file);
  }
});
