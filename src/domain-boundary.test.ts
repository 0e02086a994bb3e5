import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));

/**
 * The outer layers: the composition root, configuration, the HTTP server, storage, logging and the CLI. Every other
 * folder under src/ is domain code, so a new folder is held to the rule without being listed here.
 */
const OUTER = new Set(['app.ts', 'config', 'http', 'storage', 'logging', 'cli']);

/** Logging and HTTP libraries: domain code reaches them only through ports (src/shared/logger.ts, the routes). */
const FORBIDDEN_PACKAGES = [
  'pino', 'pino-pretty', 'winston', 'bunyan', 'fastify', 'express', 'koa', 'hapi', 'undici', 'axios', 'got',
  'node-fetch', 'light-my-request', 'supertest',
];

/**
 * The guard's framework adapters exist to speak one framework each; they import its types only (erased when
 * compiled), so a resource server on another framework does not load it.
 */
const ADAPTERS: Record<string, string> = { 'guard/adapters/express.ts': 'express', 'guard/adapters/fastify.ts': 'fastify' };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

function domainFiles(): string[] {
  return readdirSync(SRC)
    .filter((name) => !OUTER.has(name) && statSync(join(SRC, name)).isDirectory())
    .flatMap((name) => sources(join(SRC, name)));
}

/** Every specifier a file names, `import type` included: a type import is still a dependency of the design. */
function imports(text: string): { specifier: string; typeOnly: boolean }[] {
  const out: { specifier: string; typeOnly: boolean }[] = [];
  for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gms)) {
    out.push({ specifier: match[3] as string, typeOnly: Boolean(match[2]) });
  }
  for (const match of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ specifier: match[1] as string, typeOnly: false });
  return out;
}

function packageOf(specifier: string): string {
  return specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);
}

/** What is wrong with one file's imports, as readable lines. */
function problemsOf(where: string, text: string): string[] {
  const problems: string[] = [];
  for (const { specifier, typeOnly } of imports(text)) {
    if (specifier.startsWith('node:')) continue;
    if (!specifier.startsWith('.')) {
      const pkg = packageOf(specifier);
      if (FORBIDDEN_PACKAGES.includes(pkg) && !(typeOnly && ADAPTERS[where] === pkg)) problems.push(`${where} imports ${pkg}`);
      continue;
    }
    const target = relative(SRC, resolve(SRC, dirname(where), specifier)).replace(/\.js$/, '.ts');
    const layer = target.split('/')[0] as string;
    if (OUTER.has(layer) || target.startsWith('..')) problems.push(`${where} imports ${target}`);
  }
  return problems;
}

test('domain folders import nothing of config/, http/, storage/, logging/, cli/ or a logging or HTTP library', () => {
  const files = domainFiles();
  assert.ok(files.length > 80, `walked the domain's modules (${files.length})`);
  const problems = files.flatMap((file) => problemsOf(relative(SRC, file), readFileSync(file, 'utf8')));
  assert.deepEqual(problems, []);
});

/** Libraries that belong to one layer: at run time, only files under that folder load them. */
const OWNED_PACKAGES: Record<string, string> = {
  '@cedar-policy/cedar-wasm': 'policy',
  kysely: 'storage',
  'better-sqlite3': 'storage',
  pg: 'storage',
  fastify: 'http',
};

/** Who loads a layer's library at run time outside its layer (a type import is erased, so it does not count). */
function ownershipProblemsOf(where: string, text: string): string[] {
  const problems: string[] = [];
  for (const { specifier, typeOnly } of imports(text)) {
    if (typeOnly || specifier.startsWith('.') || specifier.startsWith('node:')) continue;
    const owner = OWNED_PACKAGES[packageOf(specifier)];
    if (owner !== undefined && where.split('/')[0] !== owner) problems.push(`${where} loads ${packageOf(specifier)}, which is ${owner}/'s`);
  }
  return problems;
}

test('only policy/ loads Cedar, only storage/ loads SQL drivers and Kysely, only http/ loads Fastify', () => {
  const files = sources(SRC);
  const problems = files.flatMap((file) => ownershipProblemsOf(relative(SRC, file), readFileSync(file, 'utf8')));
  assert.deepEqual(problems, []);
  assert.deepEqual(ownershipProblemsOf('cli/commands/audit.ts', "import { Kysely } from 'kysely';"), [
    "cli/commands/audit.ts loads kysely, which is storage/'s",
  ]);
  assert.deepEqual(ownershipProblemsOf('app.ts', "import type { Kysely } from 'kysely';"), []);
  assert.deepEqual(ownershipProblemsOf('devices/x.ts', "import { x } from '@cedar-policy/cedar-wasm/nodejs';"), [
    "devices/x.ts loads @cedar-policy/cedar-wasm, which is policy/'s",
  ]);
});

test('the rule catches each kind of violation it names', () => {
  const where = 'device-flow/example.ts';
  assert.deepEqual(problemsOf(where, "import type { Logger } from 'pino';"), [`${where} imports pino`]);
  assert.deepEqual(problemsOf(where, "import type { Config } from '../config/schema.js';"), [`${where} imports config/schema.ts`]);
  assert.deepEqual(problemsOf(where, "import { x } from '../storage/sqlite.js';"), [`${where} imports storage/sqlite.ts`]);
  assert.deepEqual(problemsOf(where, "export { y } from '../http/server.js';"), [`${where} imports http/server.ts`]);
  assert.deepEqual(problemsOf(where, "const m = await import('undici');"), [`${where} imports undici`]);
  assert.deepEqual(problemsOf(where, "import { createTether } from '../app.js';"), [`${where} imports app.ts`]);
  assert.deepEqual(problemsOf(where, "import { z } from 'zod';\nimport { hashSecret } from '../shared/crypto.js';"), []);
  assert.deepEqual(problemsOf('guard/adapters/express.ts', "import type { Request } from 'express';"), []);
  assert.deepEqual(problemsOf('guard/adapters/express.ts', "import express from 'express';"), ['guard/adapters/express.ts imports express']);
});
