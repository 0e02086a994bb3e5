import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/** The npm packages the client may use; everything else it needs must be in src/cli itself. */
const ALLOWED_PACKAGES = new Set(['jose', 'zod', 'qrcode', '@napi-rs/keyring']);
const CLI = resolve(import.meta.dirname);
const MAIN = join(CLI, 'main.ts');
const SERVER_COMMANDS = /^commands\/(serve|admin|admin-access|hash-password|audit|policy|gateway|keys)\.ts$/;
/** Shared modules outside src/cli the client may load: each imports nothing (checked below). */
const SHARED = ['shared/duration.ts'];
const SRC = resolve(CLI, '..');

/**
 * The client ships alone (docs/cli.md): everything reachable from `tether`'s entry point stays inside src/cli and
 * away from the server's commands, and uses only a short list of packages. The walk starts at main.ts and
 * follows every import, static or dynamic, except main's lazy `import()` of a server command: those load only
 * when that command runs. A server import slipping into a client module, or a static one into main, fails here.
 */
test('the client imports nothing of the server', () => {
  const seen = new Set<string>();
  const queue = [MAIN];
  const problems: string[] = [];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(['"]([^'"]+)['"]\)/g)) {
      const spec = (match[1] ?? match[2]) as string;
      const lazy = match[2] !== undefined;
      const where = relative(CLI, file);
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        if (!ALLOWED_PACKAGES.has(pkg)) problems.push(`${where} imports package ${spec}`);
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const inside = relative(CLI, target);
      if (inside.startsWith('..') && SHARED.includes(relative(SRC, target))) continue;
      if (SERVER_COMMANDS.test(inside) && lazy && file === MAIN) continue;
      if (inside.startsWith('..')) problems.push(`${where} imports ${relative(join(CLI, '../..'), target)}, outside src/cli`);
      else if (SERVER_COMMANDS.test(inside)) problems.push(`${where} imports the server command ${inside}`);
      else queue.push(target);
    }
  }
  assert.ok(seen.size > 20, `walked the client's modules (${seen.size})`);
  for (const client of ['login', 'status', 'exec', 'request', 'logout', 'agent']) {
    assert.ok(seen.has(join(CLI, `commands/${client}.ts`)), `reached the client command ${client}`);
  }
  assert.deepEqual(problems, []);
});

test('the shared modules the client loads import nothing themselves', () => {
  for (const file of SHARED) {
    const source = readFileSync(join(SRC, file), 'utf8');
    assert.doesNotMatch(source, /^\s*(import|export)\b[^;]*\bfrom\s+['"]/m, file);
  }
});
