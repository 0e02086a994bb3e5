import { randomBytes } from 'node:crypto';
import type { ReplayGuard } from '../dpop/replay-guard.js';

/** Slots in a new table; it grows with the window's population. */
const MIN_SLOTS = 1024;

/**
 * The guard's memory of the proofs it has accepted (RFC 9449 §11.1): each proof id (`jkt:jti`) is held until its
 * proof would fail its age check anyway, so every proof is usable once. A guard sees every request of its API, so
 * at 10,000 requests a second its 70-second window holds 700,000 ids; kept as strings (the server's
 * `ReplayCache`) that is about 180 bytes each after GC, 120 MB, every id a string the GC copies and marks. Here an
 * id is kept as a 52-bit number instead: a keyed hash of the id, with a key drawn at random when the guard starts,
 * in an open-addressing table in one typed array (the id and the second it may go), 16 bytes a slot, two to four
 * slots an id after a rebuild: 32 to 64 bytes an id, outside the JS heap, nothing allocated per request and nothing for the
 * GC to trace or copy. A `Map` of numbers cost 0.6 µs more per request at a full window (a heap number and a hash
 * table entry per id, the table rehashed as it grows), on a path that does little else besides the signature.
 *
 * Why the hash is safe: two different ids with the same number can only make the guard refuse a fresh proof as a
 * replay, never accept a replayed one (a replay has the very same id, hence the same number). Refusing by
 * accident needs a collision with one of the ids in the window: about n / 2^52 per request, one in six
 * billion at 700,000 held; the client just sends a new proof. An attacker cannot aim a collision at another
 * client's proof: the victim's jti is random and unknown until it is sent, and the hash key is unknown too.
 *
 * Why the table never forgets a live id: a slot only ever goes from empty to used; an id that ended stays in its
 * slot (a later id may take that slot over), so every probe sequence that passed over it still reaches what lies
 * beyond. A lookup stops only at a slot never used. When used slots pass three quarters of the table, it is rebuilt
 * from the live ids alone. Memory is bounded by the window times the request rate, as before.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class ProofIdCache implements ReplayGuard {
  /**
   * Two doubles a slot, side by side so a probe reads one cache line: the id + 1 (0: never used; ids are below
   * 2^52, so id + 1 is exact) and the second until which it is held.
   */
  private table = new Float64Array(MIN_SLOTS * 2);
  /** Slots ever used since the last rebuild (live or ended). */
  private used = 0;
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
    return this.claimId(this.hash(key), until);
  }

  /**
   * {@link claim} of the proof id `jkt:jti` (the key `ProofVerifier` names), without building that string: the
   * same number, the same answer. `now`: the caller's reading of this cache's clock, when it has one at hand.
   */
  claimProof(jkt: string, jti: string, until: number, now = this.now()): boolean {
    return this.claimId(this.hash(jkt, jti), until, now);
  }

  private claimId(hash: number, until: number, now = this.now()): boolean {
    const id = hash + 1;
    const table = this.table;
    const mask = (table.length >>> 1) - 1;
    let free = -1;
    let i = slotOf(id) & mask;
    for (;;) {
      const held = table[2 * i] as number;
      if (held === 0) break;
      if (held === id) {
        if ((table[2 * i + 1] as number) > now) return false;
        // The same id, ended: it may be used again (its proof fails its age check by now anyway).
        table[2 * i + 1] = until;
        return true;
      }
      if (free === -1 && (table[2 * i + 1] as number) <= now) free = i;
      i = (i + 1) & mask;
    }
    if (free === -1) {
      free = i;
      this.used++;
    }
    table[2 * free] = id;
    table[2 * free + 1] = until;
    // Rebuilt at three quarters used (ended ids count: they lengthen probes as live ones do).
    if (this.used * 8 > table.length * 3) this.rebuild(now);
    return true;
  }

  /** Ids held now (a scan of the table: for stats, not for the request path). */
  get size(): number {
    const now = this.now();
    const table = this.table;
    let live = 0;
    for (let j = 0; j < table.length; j += 2) if (table[j] !== 0 && (table[j + 1] as number) > now) live++;
    return live;
  }

  /** A new table sized for the live ids (a quarter to half full once they are in), without the ended ones. */
  private rebuild(now: number): void {
    const live = this.size;
    let slots = MIN_SLOTS;
    while (slots < live * 2) slots *= 2;
    const table = new Float64Array(slots * 2);
    const mask = slots - 1;
    const old = this.table;
    for (let j = 0; j < old.length; j += 2) {
      const id = old[j] as number;
      const end = old[j + 1] as number;
      if (id === 0 || end <= now) continue;
      let i = slotOf(id) & mask;
      while (table[2 * i] !== 0) i = (i + 1) & mask;
      table[2 * i] = id;
      table[2 * i + 1] = end;
    }
    this.table = table;
    this.used = live;
  }

  /**
   * Two seeded 32-bit multiply-xor lanes over the UTF-16 code units, 32 + 20 bits of them: exact in a double. With
   * a `jti` (never empty: the verifier wants 8 characters at least), the hash of the text `key:jti`.
   */
  private hash(key: string, jti = ''): number {
    let a = this.seedA ^ 0x811c9dc5;
    let b = this.seedB ^ 0x27d4eb2f;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    if (jti !== '') {
      a = Math.imul(a ^ 0x3a, 0x01000193);
      b = Math.imul(b ^ 0x3a, 0x5bd1e995);
      b ^= b >>> 15;
      for (let i = 0; i < jti.length; i++) {
        const c = jti.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
        b ^= b >>> 15;
      }
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

/** Where a stored id (id + 1) starts probing: its low 32 bits (20 of one mixed lane, 12 of the other). */
function slotOf(stored: number): number {
  return stored % 0x100000000 | 0;
}
