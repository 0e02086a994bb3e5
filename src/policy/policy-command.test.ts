// Tests `tether policy` (src/cli/commands/policy.ts). It lives here, beside the module the command drives, because
// the CLI folder belongs to another owner; it moves next to the command whenever that suits them.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { policyCommand } from '../cli/commands/policy.js';
import { captureIo } from '../../test/support/cli-io.js';

const EXAMPLES = join(import.meta.dirname, '../../docs/policy-examples');
const NOW = 1_800_000_000;
let dir = '';
after(() => rm(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await policyCommand(args, io, { now: () => NOW });
  return { code, out: io.out(), err: io.err() };
}

test('validate: the default pack, a good directory, and a bad file with its location', async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-policy-cli-'));
  const ok = await run(['validate']);
  assert.equal(ok.code, 0);
  assert.match(ok.out, /default pack: 9 policies/);
  assert.match(ok.out, /forbid high-tier-needs-managed-device {2}\(default-pack:36\)/);

  await writeFile(join(dir, 'base.cedar'), 'permit (principal, action, resource);\n');
  assert.equal((await run(['validate', dir])).code, 0);

  const bad = join(dir, 'bad.cedar');
  await writeFile(bad, 'permit (principal, action, resource);\n\nforbid (principal, action, resource)\n  when { resource.teir == "high" };\n');
  const refused = await run(['validate', bad]);
  assert.equal(refused.code, 3);
  assert.match(refused.err, /refused \(policy_invalid\)/);
  assert.match(refused.err, /bad\.cedar:4:10: \[bad\.cedar:3\] attribute `teir`.*did you mean `tier`/);

  assert.equal((await run(['validate', join(dir, 'missing.cedar')])).code, 3);
});

test('test: prints decision, determining policies, TTL and scopes; exit 1 when an expectation is not met', async () => {
  const allowed = await run(['test', '--context', join(EXAMPLES, 'issuance-high-tier.json')]);
  assert.equal(allowed.code, 0, allowed.err);
  assert.match(allowed.out, /decision: {2}allow/);
  assert.match(allowed.out, /policies: {2}baseline \(default-pack:4\), high-tier-short-tokens \(default-pack:62\)/);
  assert.match(allowed.out, /ttl: {7}5m \(300 s\) at most/);
  assert.match(allowed.out, /scopes: {4}deploy/);
  assert.match(allowed.out, /expect: {4}met/);

  const refused = await run(['test', '--context', join(EXAMPLES, 'approval-other-network.json'), '--json']);
  const line = JSON.parse(refused.out) as { decision: string; reasons: string[]; ok: boolean };
  assert.equal(line.decision, 'deny');
  assert.deepEqual(line.reasons, ['high-tier-same-network-approval']);

  // The same context against a policy set without that rule: the file's expectation fails.
  const lenient = join(dir, 'lenient.cedar');
  await writeFile(lenient, 'permit (principal, action, resource);\n');
  const unmet = await run(['test', '--context', join(EXAMPLES, 'approval-other-network.json'), '--policies', lenient]);
  assert.equal(unmet.code, 1);
  assert.match(unmet.out, /expected decision deny, got allow/);
});

test('usage errors and unreadable context files exit 2', async () => {
  assert.equal((await run(['test'])).code, 2);
  assert.equal((await run(['test', '--context'])).code, 2);
  const broken = join(dir, 'broken.json');
  await writeFile(broken, '{"step": "approval"');
  const r = await run(['test', '--context', broken]);
  assert.equal(r.code, 2);
  assert.match(r.err, /not valid JSON/);
  assert.equal((await run(['frobnicate'])).code, 2);
  assert.equal((await run([])).code, 0);
  assert.match((await run(['schema'])).out, /namespace Tether/);
  assert.match((await run(['default'])).out, /@id\("baseline"\)/);
});
