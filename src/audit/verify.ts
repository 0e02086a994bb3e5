import type { AuditEvent } from './event.js';
import { eventHash, GENESIS_HASH } from './hash-chain.js';

export interface Checkpoint {
  seq: number;
  hash: string;
  at: number;
  /** Compact JWS over {seq, hash, at} by a server signing key. */
  signature: string;
}

export type ChainFault =
  | 'edited'
  | 'sequence_gap'
  | 'broken_link'
  | 'checkpoint_mismatch'
  | 'checkpoint_signature'
  | 'truncated';

export interface ChainReport {
  ok: boolean;
  events: number;
  checkpoints: number;
  /** The first bad event (or checkpoint) and what is wrong with it. */
  firstBad?: { seq: number; fault: ChainFault; detail: string };
}

/**
 * Walks the chain in sequence order and names the first event that does not fit:
 * - its own hash does not match its content (edited),
 * - its sequence number skips (an event deleted, or the order changed),
 * - its prev_hash is not the previous event's hash (inserted, deleted or reordered),
 * and checks each signed checkpoint against the chain at its position, so rewriting the whole chain from some
 * point on (recomputing every hash) is caught at the next checkpoint. `verifyCheckpoint` checks a signature.
 */
export async function verifyChain(
  events: readonly AuditEvent[],
  checkpoints: readonly Checkpoint[],
  verifyCheckpoint: (checkpoint: Checkpoint) => Promise<boolean>,
): Promise<ChainReport> {
  const report = (firstBad?: ChainReport['firstBad']): ChainReport => ({
    ok: firstBad === undefined,
    events: events.length,
    checkpoints: checkpoints.length,
    ...(firstBad ? { firstBad } : {}),
  });
  const bySeq = new Map<number, string>();
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  for (const event of events) {
    if (event.seq !== expectedSeq) {
      return report({ seq: event.seq, fault: 'sequence_gap', detail: `expected event ${expectedSeq}, found ${event.seq}` });
    }
    if (event.prevHash !== prevHash) {
      return report({ seq: event.seq, fault: 'broken_link', detail: 'prev_hash is not the hash of the event before it' });
    }
    const { hash, ...content } = event;
    if (eventHash(content) !== hash) {
      return report({ seq: event.seq, fault: 'edited', detail: 'the content does not match its hash' });
    }
    bySeq.set(event.seq, hash);
    prevHash = hash;
    expectedSeq++;
  }
  for (const checkpoint of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
    if (!(await verifyCheckpoint(checkpoint))) {
      return report({ seq: checkpoint.seq, fault: 'checkpoint_signature', detail: 'the checkpoint signature is invalid' });
    }
    const hash = bySeq.get(checkpoint.seq);
    if (hash === undefined) {
      return report({ seq: checkpoint.seq, fault: 'truncated', detail: `a signed checkpoint names event ${checkpoint.seq}, which is missing` });
    }
    if (hash !== checkpoint.hash) {
      return report({ seq: checkpoint.seq, fault: 'checkpoint_mismatch', detail: 'the chain was rewritten before this signed checkpoint' });
    }
  }
  return report();
}
