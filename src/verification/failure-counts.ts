/**
 * Where the failed attempts of one kind of key (an account, a browser session, an address) are counted. One
 * process keeps them in memory; several instances on one database count in a table, or an attacker would spread
 * their guesses over the instances and get each one's allowance. Times are in the clock's seconds.
 */
export interface FailureCounts {
  /** This key's failures later than `since`, oldest first. */
  recent(key: string, since: number): Promise<CountedFailure[]>;
  /** Counts a failure of this key; returns its id, for `remove`. */
  add(key: string, at: number): Promise<string>;
  /** Takes back one failure (an attempt counted before it was checked, that turned out not to be one). */
  remove(key: string, id: string): Promise<void>;
  /** Moves one failure to a later time: when its check ended, which the delay runs from. */
  retime(key: string, id: string, at: number): Promise<void>;
  /** Forgets every failure of this key. */
  clear(key: string): Promise<void>;
  /** Forgets every failure at or before `before`, of all keys. */
  sweep(before: number): Promise<void>;
}

export interface CountedFailure {
  id: string;
  at: number;
}

/** Which limit a count belongs to: the keys of different limits never mix. */
export type FailureScope = 'code_entry.account' | 'code_entry.session' | 'code_entry.ip' | 'sign_in.account' | 'sign_in.ip';

/** Hands out the counts of each limit: in memory for one process, or shared by every instance on the database. */
export type FailureCountsFor = (scope: FailureScope) => FailureCounts;

/** Counts in this process's memory, a fresh set per limit. */
export const memoryFailureCounts: FailureCountsFor = () => new MemoryFailureCounts();

/** The counts of one process: what a single instance (SQLite) uses, as fast as a map lookup. */
export class MemoryFailureCounts implements FailureCounts {
  private readonly failures = new Map<string, CountedFailure[]>();
  private nextId = 0;

  async recent(key: string, since: number): Promise<CountedFailure[]> {
    // Aged-out failures are left to the sweep: a read forgets nothing, as a read of the table does not.
    return (this.failures.get(key) ?? []).filter((h) => h.at > since);
  }

  async add(key: string, at: number): Promise<string> {
    const failure = { id: String(this.nextId++), at };
    const hits = this.failures.get(key);
    if (hits) hits.push(failure);
    else this.failures.set(key, [failure]);
    return failure.id;
  }

  async remove(key: string, id: string): Promise<void> {
    const hits = this.failures.get(key);
    if (!hits) return;
    const left = hits.filter((h) => h.id !== id);
    if (left.length === 0) this.failures.delete(key);
    else this.failures.set(key, left);
  }

  async retime(key: string, id: string, at: number): Promise<void> {
    const failure = this.failures.get(key)?.find((h) => h.id === id);
    if (failure) failure.at = at;
  }

  async clear(key: string): Promise<void> {
    this.failures.delete(key);
  }

  async sweep(before: number): Promise<void> {
    for (const [key, hits] of this.failures) {
      const live = hits.filter((h) => h.at > before);
      if (live.length === 0) this.failures.delete(key);
      else if (live.length < hits.length) this.failures.set(key, live);
    }
  }
}
