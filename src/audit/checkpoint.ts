import { compactVerify, CompactSign, type JWK, importJWK } from 'jose';
import type { KeyRing } from '../tokens/signing-keys.js';
import type { Checkpoint } from './verify.js';

/** What checkpointing needs from storage. */
export interface CheckpointStore {
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
  lastCheckpoint(): Promise<Checkpoint | undefined>;
  insertCheckpoint(checkpoint: Checkpoint): Promise<void>;
}

/**
 * Signs the chain's head at a regular interval (and at shutdown) with the server's signing key, so anyone holding
 * the public JWKS can tell that events up to that point are as the server wrote them.
 */
export class Checkpointer {
  constructor(
    private readonly store: CheckpointStore,
    private readonly keys: KeyRing,
    private readonly now: () => number,
  ) {}

  /** Signs the current head if it moved since the last checkpoint; returns the new checkpoint, if any. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    const head = await this.store.auditHead();
    if (!head) return undefined;
    const last = await this.store.lastCheckpoint();
    if (last && last.seq >= head.seq) return undefined;
    const at = this.now();
    const { kid, key } = this.keys.signingKey;
    const payload = new TextEncoder().encode(JSON.stringify({ seq: head.seq, hash: head.hash, at }));
    const signature = await new CompactSign(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'tether-audit-checkpoint' }).sign(key);
    const checkpoint = { seq: head.seq, hash: head.hash, at, signature };
    await this.store.insertCheckpoint(checkpoint);
    return checkpoint;
  }
}

/** Checks a checkpoint's signature against published keys and that it signs exactly its seq, hash and time. */
export async function verifyCheckpointSignature(checkpoint: Checkpoint, publicKeys: readonly JWK[]): Promise<boolean> {
  for (const jwk of publicKeys) {
    try {
      const key = await importJWK(jwk, 'ES256');
      const { payload } = await compactVerify(checkpoint.signature, key);
      const signed = JSON.parse(new TextDecoder().decode(payload)) as { seq: number; hash: string; at: number };
      return signed.seq === checkpoint.seq && signed.hash === checkpoint.hash && signed.at === checkpoint.at;
    } catch {
      // try the next key
    }
  }
  return false;
}
