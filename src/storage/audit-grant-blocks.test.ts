import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRANT_BLOCK_EVENTS, grantBlockRuns } from './audit-grant-blocks.js';

test('the runs name every block from the one after afterSeq to the newest, once each, in order, 1,000 at most per run', () => {
  for (const [afterSeq, lastSeq] of [
    [0, 0],
    [0, GRANT_BLOCK_EVENTS - 1],
    [0, GRANT_BLOCK_EVENTS],
    [GRANT_BLOCK_EVENTS * 3 + 5, GRANT_BLOCK_EVENTS * 3 + 9],
    [0, 10_000_000],
    [0, GRANT_BLOCK_EVENTS * 2_500],
    [GRANT_BLOCK_EVENTS * 1_200, GRANT_BLOCK_EVENTS * 2_500 + 1],
  ] as const) {
    const runs = grantBlockRuns(afterSeq, lastSeq);
    assert.ok(runs.every((r) => r.length > 0 && r.length <= 1_000));
    const blocks = runs.flat();
    const first = Math.floor(afterSeq / GRANT_BLOCK_EVENTS);
    const last = Math.floor(lastSeq / GRANT_BLOCK_EVENTS);
    assert.deepEqual(blocks, Array.from({ length: last - first + 1 }, (_, i) => first + i), `${afterSeq}..${lastSeq}`);
  }
});
