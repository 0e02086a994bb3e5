import type { Statement } from 'better-sqlite3';
import type { AuditEventInput } from '../audit/event.js';
import type { DeviceAuthorization } from '../device-flow/device-authorization.js';
import type { Grant } from '../grants/grant.js';
import type { RequestOrigin } from '../oauth/request-origin.js';
import type { IssuedTokens } from '../tokens/token-store.js';
import {
  deviceAuthorizationFromRow,
  deviceAuthorizationRow,
  SqlDeviceAuthorizationStore,
} from './device-authorizations.js';
import { PendingRequests } from './pending-requests.js';
import type { DeviceAuthorizationTable } from './schema.js';
import { SqliteAuditAppender } from './sqlite-audit-append.js';
import { SqliteGroupCommit } from './sqlite-group-commit.js';
import { outsideTransaction } from './sqlite-outside-transaction.js';
import type { SqliteIssuedTokenWriter } from './sqlite-tokens.js';
import type { SqliteHandle } from './sqlite.js';

/** The live-code counts' statements, on migration 0010's partial indexes of pending codes. */
export const LIVE_CODE_SQL = {
  byIp: "select count(*) from device_authorizations where requester_ip = ? and status = 'pending' and expires_at > ?",
  byClient: "select count(*) from device_authorizations where client_id = ? and status = 'pending' and expires_at > ?",
  latestExpiryByIp:
    "select requester_ip as ip, max(expires_at) as until from device_authorizations where status = 'pending' group by requester_ip",
} as const;

/**
 * SQLite's fast path for the hottest operations of the device flow: creating a request (with its audit event),
 * the poll's lookup (by the row id its device code names) and the redemption. Kysely's async transaction machinery costs several times the SQL itself;
 * here synchronous transactions of prepared statements do the same work, still durable and still atomic with
 * their audit events, and a group commit shares one transaction among the writes of an event-loop turn.
 * Everything else stays on the dialect-neutral Kysely store it extends.
 */
export class SqliteDeviceAuthorizationStore extends SqlDeviceAuthorizationStore {
  private readonly insertRequest: Statement;
  private readonly selectById: Statement;
  private readonly claimApproved: Statement;
  private readonly countLiveByIp: Statement;
  private readonly countLiveByClient: Statement;
  /** Live-code counts per client, as last counted, plus the codes created since. */
  private readonly liveCounts = new Map<string, { count: number; countedAt: number }>();
  /**
   * Per address, the latest expiry of any pending code it was given: read from the table when the store opens,
   * then raised by every code created here. One process owns a SQLite file (storage/open.ts), so nothing else
   * adds codes; past that time the address holds no live code, whatever happened to its codes meanwhile.
   */
  private readonly liveUntil: Map<string, number>;
  private pruneAt = PRUNE_AT;
  private readonly bindGrant: Statement;
  /** Committed pending requests, so a pending poll reads no row (docs/architecture.md, "Pending requests in memory"). */
  private readonly pendingRequests = new PendingRequests();

  constructor(
    private readonly sqlite: SqliteHandle,
    private readonly commit: SqliteGroupCommit = new SqliteGroupCommit(sqlite),
    private readonly audit: SqliteAuditAppender = new SqliteAuditAppender(sqlite.raw),
    private readonly issued?: SqliteIssuedTokenWriter,
  ) {
    super(sqlite.db);
    const { raw } = sqlite;
    const columns = Object.keys(deviceAuthorizationRow(EMPTY)) as (keyof DeviceAuthorizationTable)[];
    this.insertRequest = raw.prepare(
      // A user-code collision is simply "not inserted" (then no event either), so no savepoint is needed per request.
      // Positional parameters, bound in deviceAuthorizationRow's order (that of `columns`): cheaper than by name.
      `insert into device_authorizations (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')}) on conflict do nothing`,
    );
    this.selectById = raw.prepare('select * from device_authorizations where id = ?');
    this.createBatch = raw.transaction((batch: readonly PendingRequest[], outcomes: CreatedRows) => {
      const chain = this.audit.open();
      for (const item of batch) {
        const row = deviceAuthorizationRow(item.a);
        const created = this.insertRequest.run(...Object.values(row)).changes === 1;
        if (created) {
          chain.append(item.events);
          this.counted(item.a);
        }
        outcomes.push(created ? row : undefined);
      }
      chain.close();
    });
    this.claimApproved = raw.prepare("update device_authorizations set status = 'redeemed' where id = ? and status = 'approved'");
    // A grant already bound to the key (a code bound at the device endpoint) is left as it is: no row written.
    this.bindGrant = raw.prepare('update grants set dpop_jkt = @jkt where id = @id and dpop_jkt is not @jkt');
    this.countLiveByIp = raw.prepare(LIVE_CODE_SQL.byIp).pluck();
    this.countLiveByClient = raw.prepare(LIVE_CODE_SQL.byClient).pluck();
    // Once, at start: a scan of the pending codes' address index (covering).
    const rows = raw.prepare(LIVE_CODE_SQL.latestExpiryByIp).all() as { ip: string; until: number | bigint }[];
    this.liveUntil = new Map(rows.map((r) => [r.ip, Number(r.until)]));
  }

  /**
   * Requests that arrive in the same turn of the event loop are written in one transaction (group commit): the
   * commit is most of the cost, and nobody is answered before it. Their events extend the audit chain with one
   * read and one write of its head for the whole batch. A failure other than a user-code collision
   * fails the whole batch, and every request in it is answered with that error.
   */
  override async create(a: DeviceAuthorization, events: AuditEventInput[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ a, events, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  /**
   * The live-code caps' counts (DeviceRequestLimits asks two on every device authorization). An address's count is
   * 0 without a query when no code it was given can still be live (`liveUntil`): the usual case, a device asking
   * for its first code. Otherwise it is counted afresh: the per-address cap keeps that range a few steps, and
   * caching it per address would only churn a map with every new address. A client's count costs as
   * many steps as the client holds codes, up to its cap (10,000 by default), so it is taken at most once a second
   * and the codes created here since are added to it. Codes that left "pending" or expired in that second are
   * still counted: the count can only be too high, never too low, so a cap is never passed by more than the burst
   * its comment already allows.
   */
  override async countLive(now: number, of: { clientId?: string; requesterIp?: string } = {}): Promise<number> {
    const { clientId, requesterIp } = of;
    if (requesterIp !== undefined && clientId === undefined) {
      const until = this.liveUntil.get(requesterIp);
      if (until === undefined || until <= now) return 0;
      return Number(this.countLiveByIp.get(requesterIp, now));
    }
    if (clientId === undefined || requesterIp !== undefined) return super.countLive(now, of);
    const at = performance.now();
    const known = this.liveCounts.get(clientId);
    if (known && at - known.countedAt < LIVE_COUNT_MS) return known.count;
    const count = Number(this.countLiveByClient.get(clientId, now));
    if (this.liveCounts.size >= 10_000) this.liveCounts.clear();
    this.liveCounts.set(clientId, { count, countedAt: at });
    return count;
  }

  private pending: PendingRequest[] = [];

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const outcomes: CreatedRows = [];
    try {
      await outsideTransaction(this.sqlite, () => this.createBatch(batch, outcomes));
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    // Committed: from here a poll of these codes is answered from memory. Each request held is built from its row,
    // as a read would be, never the caller's object (which the caller may still change).
    batch.forEach((item, i) => {
      const row = outcomes[i];
      if (row) this.pendingRequests.remember(deviceAuthorizationFromRow(row));
      item.resolve(row !== undefined);
    });
  }

  /**
   * A batch of new requests in one transaction, each outcome pushed to `outcomes`. Made once, in the constructor:
   * better-sqlite3's `transaction()` builds four wrapper functions each time it is called.
   */
  private readonly createBatch: (batch: readonly PendingRequest[], outcomes: CreatedRows) => void;

  /**
   * Adds a code to the live counts before its batch commits (a batch that then fails leaves them too high, which
   * only means a query that was not needed), so no request after the commit can see the address without it.
   */
  private counted(a: DeviceAuthorization): void {
    const known = this.liveCounts.get(a.clientId);
    if (known) known.count++;
    const ip = a.requester.ip;
    if ((this.liveUntil.get(ip) ?? -Infinity) < a.expiresAt) {
      // Expired entries say nothing; dropped in one pass when the map grows (it holds the addresses with live codes).
      if (this.liveUntil.size >= this.pruneAt) {
        for (const [key, until] of this.liveUntil) if (until <= a.createdAt) this.liveUntil.delete(key);
        // Many live addresses are not pruned again at every code: the next pass waits for the map to double.
        this.pruneAt = Math.max(PRUNE_AT, this.liveUntil.size * 2);
      }
      this.liveUntil.set(ip, a.expiresAt);
    }
  }

  /**
   * A pending answer straight from the driver. Anything else must be committed before it is acted on (an approval
   * still inside its transaction may yet roll back): read while the connection is in no transaction, it is; read
   * inside one, it is read again once that transaction has ended (`exclusive`; see `sqlite-outside-transaction.ts`).
   */
  override async findById(id: string): Promise<DeviceAuthorization | undefined> {
    const held = this.pendingRequests.get(id);
    if (held) return held;
    const row = this.selectById.get(id) as DeviceAuthorizationTable | undefined;
    if (row?.status === 'pending' || !this.sqlite.raw.inTransaction) {
      const found = row && deviceAuthorizationFromRow(row);
      // Read outside any transaction, a pending row is committed: held from now (after a restart, say).
      if (found && !this.sqlite.raw.inTransaction) this.pendingRequests.remember(found);
      return found;
    }
    const locked = await this.sqlite.exclusive(() => this.selectById.get(id) as DeviceAuthorizationTable | undefined);
    return locked && deviceAuthorizationFromRow(locked);
  }

  // Every write of a request's row drops it from memory, before the write and again once it has ended (committed
  // or not): a poll that read the row as pending just before the write began may have held it again meanwhile.
  override approve(id: string, now: number, approver: RequestOrigin, grant: Grant, events: AuditEventInput[]): Promise<boolean> {
    return this.writing(id, () => super.approve(id, now, approver, grant, events));
  }

  override deny(id: string, now: number, approverUserId: string, approver: RequestOrigin, events: AuditEventInput[]): Promise<boolean> {
    return this.writing(id, () => super.deny(id, now, approverUserId, approver, events));
  }

  override abandon(id: string, now: number, events: AuditEventInput[]): Promise<boolean> {
    return this.writing(id, () => super.abandon(id, now, events));
  }

  override async deleteExpired(before: number): Promise<number> {
    this.pendingRequests.sweep(before);
    return super.deleteExpired(before);
  }

  private async writing<T>(id: string, write: () => Promise<T>): Promise<T> {
    this.pendingRequests.forget(id);
    try {
      return await write();
    } finally {
      this.pendingRequests.forget(id);
    }
  }

  /**
   * The single-use claim of an approved code (`status = 'approved'` in the update), the grant's key binding, the
   * tokens and the audit event: one savepoint of a group commit, answered once committed.
   */
  override redeem(id: string, tokens: IssuedTokens, dpopJkt: string | null, events: AuditEventInput[]): Promise<boolean> {
    const issued = this.issued;
    if (!issued) return super.redeem(id, tokens, dpopJkt, events);
    return this.commit.run(() => {
      if (this.claimApproved.run(id).changes !== 1) return false;
      if (dpopJkt !== null) this.bindGrant.run({ jkt: dpopJkt, id: tokens.access.grantId });
      issued.insert(tokens);
      this.audit.append(events);
      return true;
    });
  }
}

interface PendingRequest {
  a: DeviceAuthorization;
  events: AuditEventInput[];
  resolve: (ok: boolean) => void;
  reject: (e: unknown) => void;
}

/** Per request of a batch, in order: its row when it was inserted, undefined when its user code collided. */
type CreatedRows = (DeviceAuthorizationTable | undefined)[];

/** How long a live-code count is reused (plus the codes created meanwhile). */
const LIVE_COUNT_MS = 1_000;
/** Addresses in `liveUntil` before its expired entries are first dropped. */
const PRUNE_AT = 100_000;

const EMPTY: DeviceAuthorization = {
  id: '',
  deviceCodeHash: '',
  userCode: '',
  clientId: '',
  scopes: [],
  resource: '',
  requester: { ip: '', userAgent: '' },
  dpopJkt: null,
  deviceJkt: null,
  environment: null,
  interval: 0,
  createdAt: 0,
  expiresAt: 0,
  status: 'pending',
  decidedAt: null,
  approverUserId: null,
  approver: null,
  grantId: null,
};
