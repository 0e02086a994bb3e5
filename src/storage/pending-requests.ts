import type { DeviceAuthorization } from '../device-flow/device-authorization.js';

/**
 * Most requests held at once: each takes about 0.9 KB of heap (100,000 requests like the bench's took 91 MB), so
 * this bounds it near 180 MB. Live codes are capped per client (10,000 by default) and per address long before
 * that; past it, a poll reads its row, as before.
 */
export const MAX_PENDING_REQUESTS = 200_000;

/**
 * The SQLite store's pending requests in memory, by id: a pending poll is answered from here instead of reading its
 * row, which was a fifth of a poll's CPU. Only committed pending rows enter (a created request once its transaction
 * has committed; a row read as pending outside any transaction). The store drops an entry when any of its own
 * writes of that row has ended, whatever its outcome, and the entries that the same sweep deletes from the table.
 * One process owns a SQLite file (storage/open.ts), so no write reaches the table another way. At worst a poll
 * racing a decision is answered "pending" once more, as it would be had it come a moment earlier; nothing that is
 * not pending is ever answered from here, so redemption, denial and expiry still read the row.
 * See docs/architecture.md, "Pending requests in memory".
 */
export class PendingRequests {
  private readonly byId = new Map<string, DeviceAuthorization>();

  constructor(private readonly max = MAX_PENDING_REQUESTS) {}

  get(id: string): DeviceAuthorization | undefined {
    return this.byId.get(id);
  }

  /** Holds a committed pending request, frozen: every poll of it gets the same object, and nobody may change it. */
  remember(a: DeviceAuthorization): void {
    if (a.status !== 'pending' || this.byId.size >= this.max) return;
    Object.freeze(a.scopes);
    Object.freeze(a.requester);
    this.byId.set(a.id, Object.freeze(a));
  }

  forget(id: string): void {
    this.byId.delete(id);
  }

  /** Drops the requests that expired before `before`, as the table's sweep deletes their rows. */
  sweep(before: number): void {
    for (const [id, a] of this.byId) if (a.expiresAt < before) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}
