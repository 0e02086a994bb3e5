import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { describeConfig, renderConfigReference, REFERENCE_END, REFERENCE_START, withConfigReference } from './reference.js';
import { configSchema } from './schema.js';

const fields = describeConfig(configSchema);

test('the walker reaches nested fields, list items and wrapped schemas', () => {
  const paths = fields.map((f) => f.path);
  // Fields the old hand-written reference missed: each must be found, or the checks below prove nothing.
  for (const path of ['dpop.require_nonce', 'admin.api_key_hashes', 'clients[].allow_bearer', 'clients[].require_dpop_binding',
    'clients[].token_endpoint_auth_method', 'clients[].jwks', 'clients[].jwks.keys', 'clients[].introspection']) {
    assert.ok(paths.includes(path), path);
  }
  const probe = describeConfig(
    z.object({
      a: z.string().describe('plain').default('x'),
      b: z.object({ c: z.number().describe('nested') }).strict().optional().describe('outer'),
      d: z.array(z.object({ e: z.boolean().describe('item') })).describe('list'),
    }),
  );
  assert.deepEqual(
    probe.map((f) => [f.path, f.type, f.default, f.required, f.description]),
    [
      ['a', 'string', '"x"', false, 'plain'],
      ['b', 'object', undefined, false, 'outer'],
      ['b.c', 'number', undefined, true, 'nested'],
      ['d', 'list of object', undefined, true, 'list'],
      ['d[].e', 'boolean', undefined, true, 'item'],
    ],
  );
});

test('every field of the configuration schema has a description', () => {
  assert.deepEqual(fields.filter((f) => !f.description).map((f) => f.path), []);
});

test('docs/configuration.md lists every field exactly as the schema describes it (npm run docs:config)', () => {
  const document = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.ok(document.includes(REFERENCE_START) && document.includes(REFERENCE_END), 'the generated reference is in the page');
  assert.equal(withConfigReference(document, renderConfigReference(fields)), document, 'run npm run docs:config');
});
