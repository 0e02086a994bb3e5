/**
 * Events per block of the grant trace index (migration 0009-audit-append-indexes indexes `(seq / 16384, grant_id)`):
 * the two must agree, or lookups by grant stop using that index (test/storage/audit-lookups.test.ts checks the plan).
 */
export const GRANT_BLOCK_EVENTS = 16_384;

/** Blocks named in one query: far below the bound-parameter limits of SQLite (32,766) and PostgreSQL (65,535). */
const BLOCKS_PER_QUERY = 1_000;

/**
 * The blocks that can hold a grant's events at positions after `afterSeq` up to `lastSeq`, oldest first, in runs of
 * at most BLOCKS_PER_QUERY: a lookup by grant is one index step per block, so a log of 10^7 events costs 611
 * steps, and appends only ever write into the newest block.
 */
export function grantBlockRuns(afterSeq: number, lastSeq: number): number[][] {
  const runs: number[][] = [];
  const last = Math.floor(lastSeq / GRANT_BLOCK_EVENTS);
  for (let first = Math.floor(Math.max(0, afterSeq) / GRANT_BLOCK_EVENTS); first <= last; first += BLOCKS_PER_QUERY) {
    const end = Math.min(last, first + BLOCKS_PER_QUERY - 1);
    runs.push(Array.from({ length: end - first + 1 }, (_, i) => first + i));
  }
  return runs;
}
