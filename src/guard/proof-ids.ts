import { randomBytes } from 'node:crypto';
import type { ReplayGuard } from '../dpop/replay-guard.js';

/**
 * The guard's memory of the proofs it has accepted (RFC 9449 §11.1): each proof id (`jkt:jti`) is held until its
 * proof would fail its age check anyway, so every proof is usable once. A guard sees every request of its API, so
 * at 10,000 requests a second its 70-second window holds 700,000 ids; kept as strings (the server's
 * `ReplayCache`) that is about 180 bytes each after GC, 120 MB, every id a string the GC copies and marks. Here an
 * id is kept as a 52-bit number instead (about 75 bytes, 50 MB, nothing for the GC to trace): a keyed hash of the
 * id, with a key drawn at random when the guard starts.
 *
 * Why that is safe: two different ids with the same number can only make the guard refuse a fresh proof as a
 * replay, never accept a replayed one (a replay has the very same id, hence the same number). Refusing by
 * accident needs a collision with one of the ids in the window: about n / 2^52 per request, one in six
 * billion at 700,000 held; the client just sends a new proof. An attacker cannot aim a collision at another
 * client's proof: the victim's jti is random and unknown until it is sent, and the hash key is unknown too.
 * Memory is bounded by the window times the request rate, as before; expired ids are swept as new ones arrive.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class ProofIdCache implements ReplayGuard {
  private readonly seen = new Map<number, number>();
  private nextSweep = 0;
  private readonly seedA: number;
  private readonly seedB: number;

  /** `now` in seconds, the guard's clock. */
  constructor(private readonly now: () => number) {
    const seed = randomBytes(8);
    this.seedA = seed.readInt32LE(0);
    this.seedB = seed.readInt32LE(4);
  }

  /** Records `key` until `until` (seconds); false when it was already recorded (a replay). */
  claim(key: string, until: number): boolean {
    const now = this.now();
    if (now >= this.nextSweep) this.sweep(now);
    const id = this.hash(key);
    const expiry = this.seen.get(id);
    if (expiry !== undefined && expiry > now) return false;
    this.seen.set(id, until);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    // Map iteration follows insertion order, which is close to expiry order; stop at the first live entry.
    for (const [id, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(id);
    }
    this.nextSweep = now + 1;
  }

  /** Two seeded 32-bit multiply-xor lanes over the UTF-16 code units, 32 + 20 bits of them: exact in a double. */
  private hash(key: string): number {
    let a = this.seedA ^ 0x811c9dc5;
    let b = this.seedB ^ 0x27d4eb2f;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    // Final mixing (murmur3's), so every input bit reaches every output bit.
    a ^= a >>> 16;
    a = Math.imul(a, 0x85ebca6b);
    a ^= a >>> 13;
    a = Math.imul(a, 0xc2b2ae35);
    a ^= a >>> 16;
    b ^= b >>> 16;
    b = Math.imul(b, 0x85ebca6b);
    b ^= b >>> 13;
    return (a >>> 0) * 0x100000 + (b >>> 12);
  }
}
