import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ApiPolicy } from '../../src/guard/api-policy.js';
import { createGateway } from '../../src/guard/gateway.js';
import { Guard } from '../../src/guard/guard.js';
import { StaticJwks } from '../../src/guard/keys.js';
import { parseContextFile } from '../../src/policy/context-file.js';
import type { ApiRequestInput } from '../../src/policy/types.js';
import { accessToken, dpopKey, issuerKey, type IssuerKey } from './fixtures.js';
import { listen, memoryLogger, startUpstream } from './support.js';

/**
 * One set of facts, two deciders: every `api` example of docs/policy-examples goes through `tether policy test`
 * (the built CLI) and through a running gateway (real HTTP; the token minted with the example's claims, the
 * gateway's clock at the example's `now`), and both must say the same: allow is forwarded (200), deny is 403
 * with the same reason, logged with the same determining policies.
 */
const ROOT = join(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'docs/policy-examples');
const run = promisify(execFile);

/** The example sets: the default pack's top-level files, and a team's API policies with their own examples. */
const SETS: { name: string; dir: string; policies?: string }[] = [
  { name: 'default pack', dir: EXAMPLES },
  { name: 'api-team', dir: join(EXAMPLES, 'api-team'), policies: join(EXAMPLES, 'api-team') },
];

interface CliDecision {
  ok: boolean;
  decision: 'allow' | 'deny';
  reasons: string[];
  message?: string;
}

describe('the api examples decide alike in tether policy test and in a running gateway', () => {
  let key: IssuerKey;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let scratch: string;

  before(async () => {
    key = await issuerKey();
    upstream = await startUpstream();
    scratch = mkdtempSync(join(tmpdir(), 'tether-examples-'));
  });
  after(async () => {
    await upstream.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const set of SETS) {
    test(set.name, async () => {
      const files = readdirSync(set.dir).filter((f) => f.startsWith('api-') && f.endsWith('.json'));
      assert.ok(files.length >= 3, `${set.dir} has api examples`);
      let denials = 0;
      // One CLI run for the whole set (each spawn costs a second or two on a busy machine).
      const cases = [];
      for (const name of files) {
        const raw = JSON.parse(readFileSync(join(set.dir, name), 'utf8')) as Record<string, unknown>;
        const clock = { now: 0 };
        const holder = await dpopKey('ES256', () => clock.now);
        // The gateway sees the caller at 127.0.0.1 and the key the client really holds; the CLI is given the same.
        const facts = { ...raw, origin: { ip: '127.0.0.1' }, device: { ...(raw['device'] as object), jkt: holder.jkt } };
        const copy = join(scratch, `${set.name.replace(/\W/g, '-')}-${name}`);
        writeFileSync(copy, JSON.stringify(facts));
        const input = parseContextFile(facts, Date.now() / 1000).input as ApiRequestInput;
        clock.now = input.now;
        cases.push({ name, copy, holder, input });
      }
      const args = ['bin/tether.js', 'policy', 'test', '--json', ...(set.policies ? ['--policies', set.policies] : [])];
      for (const c of cases) args.push('--context', c.copy);
      const lines = (await run(process.execPath, args, { cwd: ROOT })).stdout.trim().split('\n');
      const decisions = new Map(lines.map((l) => JSON.parse(l) as CliDecision & { context: string }).map((d) => [d.context, d]));

      for (const { name, copy, holder, input } of cases) {
        const now = input.now;
        const cli = decisions.get(copy) as CliDecision;
        assert.equal(cli.ok, true, `${name}: the example's expectation holds in tether policy test`);

        const logger = memoryLogger();
        const policy = await ApiPolicy.load({
          audience: input.resource.uri,
          tier: input.resource.tier,
          logger,
          ...(set.policies ? { policies: set.policies } : {}),
        });
        const guard = new Guard({ issuer: 'https://as.example', audience: input.resource.uri, keys: new StaticJwks(key.jwks), now: () => now, policy, logger });
        const gateway = createGateway({ guard, upstream: upstream.url, logger });
        const base = `http://127.0.0.1:${await listen(gateway)}`;
        try {
          const subject = input.subject.kind === 'user' ? input.subject : undefined;
          const token = await accessToken(key, {
            now,
            jkt: holder.jkt,
            claims: {
              iss: 'https://as.example',
              aud: input.resource.uri,
              sub: input.subject.id,
              client_id: input.client.id,
              scope: input.scopes.join(' '),
              iat: input.tokenIssuedAt,
              exp: now + 300,
              ...(subject && subject.groups.length > 0 ? { groups: subject.groups } : {}),
              ...(input.device.class !== 'unmanaged' || input.device.enrolled
                ? { device_class: input.device.class, device_enrolled: input.device.enrolled }
                : {}),
            },
          });
          const url = `${base}${input.path}`;
          const { createHash } = await import('node:crypto');
          const ath = createHash('sha256').update(token).digest('base64url');
          const seenBefore = upstream.seen.length;
          const response = await fetch(url, {
            method: input.method,
            headers: { authorization: `DPoP ${token}`, dpop: await holder.proof(input.method, url, { ath }) },
          });
          const body = (await response.json()) as Record<string, unknown>;
          if (cli.decision === 'allow') {
            assert.equal(response.status, 200, `${name}: allowed by policy test, forwarded by the gateway (${JSON.stringify(body)})`);
            assert.equal(upstream.seen.length, seenBefore + 1);
          } else {
            denials++;
            assert.equal(response.status, 403, `${name}: refused by policy test, refused by the gateway`);
            assert.deepEqual(body, { error: 'insufficient_scope', error_description: cli.message }, `${name}: the same reason`);
            assert.equal(upstream.seen.length, seenBefore, `${name}: never forwarded`);
            const line = logger.lines.find((l) => l.includes('guard: refused by policy')) ?? '';
            assert.ok(line.includes(`"policies":${JSON.stringify(cli.reasons)}`), `${name}: logged with the policies ${cli.reasons.join(', ')}: ${line}`);
          }
        } finally {
          policy.close();
          gateway.closeAllConnections();
          await new Promise<void>((resolve) => gateway.close(() => resolve()));
          gateway.closeUpstream();
        }
      }
      assert.ok(denials > 0, 'the set holds at least one refusal');
    });
  }
});
