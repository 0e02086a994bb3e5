/**
 * A map whose entries end at a given time and whose size has a hard limit, so a cache fed by requests (tokens,
 * proof keys, policy decisions) cannot grow with traffic. When full, it drops entries from the oldest insertion on;
 * expired ones go first in practice because entries are inserted roughly in expiry order.
 */
export class ExpiringCache<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>();

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('a cache needs room for at least one entry');
  }

  /** The value under `key` while `now` is before its end. */
  get(key: K, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** {@link get}, with the time the entry ends. */
  entry(key: K, now: number): { readonly value: V; readonly until: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Keeps `value` under `key` until `until` (same unit as `now`). */
  set(key: K, value: V, until: number, now: number): void {
    if (until <= now) return;
    this.entries.delete(key);
    if (this.entries.size >= this.limit) {
      for (const [oldest, entry] of this.entries) {
        if (this.entries.size < this.limit && entry.until > now) break;
        this.entries.delete(oldest);
      }
    }
    this.entries.set(key, { value, until });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
