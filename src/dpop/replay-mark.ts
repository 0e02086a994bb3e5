/** Where the mark survives a restart: one small value the server keeps (the SQL settings table). */
export interface ReplayMarkStore {
  load(): Promise<number | undefined>;
  save(mark: number): Promise<void>;
}

/**
 * Makes DPoP proofs single-use across a restart without a write per proof. The replay cache is in memory, so a
 * proof accepted just before a crash would pass again after it. Instead of persisting every jti, the server
 * persists a mark: the latest `iat` (rounded up to the second) of any proof it has accepted, written before the
 * proof's request is answered, and only when it rises, so at most one small write per second. After a restart,
 * every proof dated at or before the previous process's mark is refused: none of them can be replayed, and a
 * client whose proof is refused signs a new one (one second later at most, unless a client's clock ran ahead).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export class ReplayMark {
  private durable: number;
  private target: number;
  private writing: Promise<void> | undefined;

  private constructor(
    /** The previous process's mark: proofs dated at or before it are refused. */
    readonly previous: number | undefined,
    private readonly store: ReplayMarkStore,
  ) {
    this.durable = previous ?? 0;
    this.target = this.durable;
  }

  static async open(store: ReplayMarkStore): Promise<ReplayMark> {
    const previous = await store.load();
    return new ReplayMark(previous !== undefined && Number.isFinite(previous) ? previous : undefined, store);
  }

  /**
   * Undefined when a mark at or after `iat` is already stored (nearly every proof: no promise, no tick);
   * otherwise a promise that resolves once one is.
   */
  record(iat: number): Promise<void> | undefined {
    const mark = Math.ceil(iat);
    return this.durable >= mark ? undefined : this.raise(mark);
  }

  private async raise(mark: number): Promise<void> {
    while (this.durable < mark) {
      if (this.target < mark) this.target = mark;
      this.writing ??= this.flush();
      await this.writing;
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.durable < this.target) {
        const mark = this.target;
        await this.store.save(mark);
        this.durable = Math.max(this.durable, mark);
      }
    } finally {
      this.writing = undefined;
    }
  }
}
