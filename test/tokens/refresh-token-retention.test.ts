import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStorage } from '../../src/storage/open.js';
import { insertIssuedTokens } from '../../src/storage/tokens.js';
import { ENDED_GRANT_RETENTION_S, sweepEndedGrantTokens } from '../../src/tokens/refresh-token-retention.js';
import type { PruningStep, RefreshTokenPruning } from '../../src/tokens/token-store.js';
import { uuidv7 } from '../../src/shared/ids.js';
import { FIXTURE_NOW, grantFor, pendingAuthorization } from '../support/storage-fixtures.js';

const NOW = FIXTURE_NOW;

/** A store that answers from a script and records what it was asked. */
function scripted(steps: PruningStep[], legacy: number[]) {
  const asked: string[] = [];
  const store: RefreshTokenPruning = {
    pruneEndedGrants: async (endedBefore, limit) => {
      asked.push(`grants<${endedBefore}/${limit}`);
      return steps.shift() ?? { grants: 0, refreshTokens: 0, more: false };
    },
    pruneLegacyAccessTokens: async (before, limit) => {
      asked.push(`legacy<${before}/${limit}`);
      return legacy.shift() ?? 0;
    },
  };
  return { store, asked };
}

test('a sweep asks for grants that ended a retention period ago, step after step while there are more', async () => {
  const { store, asked } = scripted(
    [
      { grants: 100, refreshTokens: 700, more: true },
      { grants: 40, refreshTokens: 90, more: false },
    ],
    [2_000, 5],
  );
  const done = await sweepEndedGrantTokens(store, NOW);
  assert.deepEqual(done, { grants: 140, refreshTokens: 790, legacyAccessTokens: 2_005 });
  const cutoff = NOW - ENDED_GRANT_RETENTION_S;
  assert.deepEqual(asked, [`grants<${cutoff}/100`, `grants<${cutoff}/100`, `legacy<${NOW}/2000`, `legacy<${NOW}/2000`]);
});

test('a sweep stops at its time budget and leaves the rest to the next one', async () => {
  let calls = 0;
  const store: RefreshTokenPruning = {
    pruneEndedGrants: async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { grants: 100, refreshTokens: 100, more: true };
    },
    pruneLegacyAccessTokens: async () => assert.fail('no budget is left for legacy rows'),
  };
  const done = await sweepEndedGrantTokens(store, NOW, 50);
  assert.ok(calls >= 2 && calls <= 4, `${calls} steps in a 50 ms budget of 20 ms steps`);
  assert.equal(done.grants, calls * 100);
});

test('on a real database: the sweep deletes the chain of a grant ended a day ago and keeps one that ended an hour ago', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tether-retention-'));
  const storage = await openStorage({ engine: 'sqlite', synchronous: 'normal', pool_size: 1 }, dataDir);
  try {
    const grantEnding = async (expiresAt: number) => {
      const a = pendingAuthorization({ ip: '192.0.2.1', userAgent: 'retention-test' });
      assert.equal(await storage.deviceAuthorizations.create(a, []), true);
      const grant = grantFor(a, { expiresAt });
      assert.equal(await storage.deviceAuthorizations.approve(a.id, NOW, { ip: '192.0.2.1', userAgent: 'retention-test' }, grant, []), true);
      for (let i = 0; i < 3; i++) {
        const refresh = { hash: `rt-${uuidv7()}`, grantId: grant.id, parentHash: null, issuedAt: NOW, expiresAt: Math.min(NOW + 3_600, expiresAt) };
        await storage.db.transaction().execute((tx) => insertIssuedTokens(tx, { access: { jti: uuidv7(), grantId: grant.id, issuedAt: NOW, expiresAt: NOW + 600 }, refresh }));
      }
      return grant.id;
    };
    const sweptNow = NOW + 10 * ENDED_GRANT_RETENTION_S;
    const longAgo = await grantEnding(sweptNow - ENDED_GRANT_RETENTION_S - 1);
    const lately = await grantEnding(sweptNow - 3_600);
    const left = async (grantId: string) => (await storage.db.selectFrom('refresh_tokens').select('hash').where('grant_id', '=', grantId).execute()).length;
    assert.deepEqual(await sweepEndedGrantTokens(storage.tokens, sweptNow), { grants: 1, refreshTokens: 3, legacyAccessTokens: 0 });
    assert.equal(await left(longAgo), 0);
    assert.equal(await left(lately), 3, 'ended an hour ago: within the retention period');
  } finally {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
