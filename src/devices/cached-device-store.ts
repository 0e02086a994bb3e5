import type { DeviceRecord, TrustedClass } from '../policy/device-trust.js';
import type { DeviceClass } from '../policy/types.js';
import { trustOf, type DeviceEvents, type DeviceStore } from './device-store.js';

/** How long the in-memory copy of the approved keys is used before it is read again. */
export const DEVICE_CACHE_TTL_MS = 10_000;

/**
 * Tells every server sharing one database that device trust changed somewhere (PostgreSQL: NOTIFY), so each
 * drops its copy at once instead of waiting out the TTL.
 */
export interface DeviceChangeNotifier {
  /** Says "device trust changed" to the other servers. */
  announce(): Promise<void>;
  /** Calls `listener` whenever another server announced (or the channel may have missed some); returns the stop. */
  onAnnounce(listener: () => void): () => void;
}

/**
 * The device registry with the approved keys held in memory, so that deciding a step costs no database query:
 * device authorization is a hot path, and most requests there come from keys nobody approved (a miss must be as
 * cheap as a hit, hence a copy of the whole approved set rather than a per-key cache).
 *
 * The copy is updated at once by every change made through this object (an approval here counts for the very
 * next request). A change made by another server on the same database counts once its announcement arrives
 * (`changes`: the copy is dropped and read again), and in any case after `ttlMs`, should announcements be lost.
 */
export class CachedDeviceStore implements DeviceStore {
  private approved: Map<string, TrustedClass> | undefined;
  private loadedAt = 0;
  private loading: Promise<Map<string, TrustedClass>> | undefined;
  /** Bumped by every local change, so a read that started before one does not overwrite it. */
  private version = 0;

  constructor(
    private readonly inner: DeviceStore,
    private readonly ttlMs = DEVICE_CACHE_TTL_MS,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly changes?: DeviceChangeNotifier,
  ) {
    changes?.onAnnounce(() => this.invalidate());
  }

  async classOf(jkt: string): Promise<TrustedClass | undefined> {
    const approved = this.approved !== undefined && this.nowMs() - this.loadedAt < this.ttlMs ? this.approved : await this.reload();
    return approved.get(jkt);
  }

  get(jkt: string): Promise<DeviceRecord | undefined> {
    return this.inner.get(jkt);
  }

  list(): Promise<DeviceRecord[]> {
    return this.inner.list();
  }

  approvedClasses(): Promise<Map<string, TrustedClass>> {
    return this.inner.approvedClasses();
  }

  countPending(): Promise<number> {
    return this.inner.countPending();
  }

  async enroll(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }, events?: DeviceEvents): Promise<DeviceRecord> {
    return this.note(await this.inner.enroll(request, events));
  }

  async approve(jkt: string, decision: { by: string; now: number; class?: DeviceClass }, events?: DeviceEvents): Promise<DeviceRecord | undefined> {
    const record = await this.inner.approve(jkt, decision, events);
    return record && this.note(record);
  }

  async attest(jkt: string, evidence: { verifier: string; class: DeviceClass; name: string; now: number }): Promise<DeviceRecord> {
    return this.note(await this.inner.attest(jkt, evidence));
  }

  async revoke(jkt: string, decision: { by: string; now: number }, events?: DeviceEvents): Promise<DeviceRecord | undefined> {
    const record = await this.inner.revoke(jkt, decision, events);
    return record && this.note(record);
  }

  /** Forgets the copy; the next lookup reads the database. */
  invalidate(): void {
    this.version++;
    this.approved = undefined;
  }

  private note(record: DeviceRecord): DeviceRecord {
    this.version++;
    this.changes?.announce().catch(() => {
      // The other servers read again after ttlMs anyway; a lost announcement only delays.
    });
    const trust = trustOf(record);
    if (this.approved) {
      if (trust) this.approved.set(record.jkt, trust);
      else this.approved.delete(record.jkt);
    }
    return record;
  }

  /** One read at a time, shared by every lookup that needs it. */
  private reload(): Promise<Map<string, TrustedClass>> {
    this.loading ??= (async () => {
      try {
        for (let attempt = 1; ; attempt++) {
          const version = this.version;
          const startedAt = this.nowMs();
          const approved = await this.inner.approvedClasses();
          // A change made here while the read ran may or may not be in it: read again rather than guess.
          if (version !== this.version && attempt < 3) continue;
          this.approved = approved;
          this.loadedAt = startedAt;
          return approved;
        }
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
