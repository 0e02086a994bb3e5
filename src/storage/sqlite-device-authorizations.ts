import type { Statement } from 'better-sqlite3';
import type { AuditEventInput } from '../audit/event.js';
import { GENESIS_HASH } from '../audit/hash-chain.js';
import type { DeviceAuthorization } from '../device-flow/device-authorization.js';
import { auditEventRow, ChainCursor, chainEvent, type ChainHead } from './audit-log.js';
import {
  deviceAuthorizationFromRow,
  deviceAuthorizationRow,
  SqlDeviceAuthorizationStore,
} from './device-authorizations.js';
import type { AuditEventTable, DeviceAuthorizationTable } from './schema.js';
import type { SqliteHandle } from './sqlite.js';

/**
 * SQLite's fast path for the two hottest operations of the device flow: creating a request (with its audit
 * event) and the pending poll's lookup. Kysely's async transaction machinery costs several times the SQL
 * itself; here one synchronous transaction of prepared statements does the same work, still durable and still
 * atomic with its audit event. Everything else stays on the dialect-neutral Kysely store it extends.
 */
export class SqliteDeviceAuthorizationStore extends SqlDeviceAuthorizationStore {
  private readonly insertRequest: Statement;
  private readonly selectByHash: Statement;
  private readonly insertEvent: Statement;
  private readonly selectHead: Statement;
  private readonly upsertHead: Statement;
  private readonly createWithEvents: (a: DeviceAuthorization, events: AuditEventInput[]) => boolean;

  constructor(private readonly sqlite: SqliteHandle) {
    super(sqlite.db);
    const { raw } = sqlite;
    const columns = Object.keys(deviceAuthorizationRow(EMPTY)) as (keyof DeviceAuthorizationTable)[];
    this.insertRequest = raw.prepare(
      // A user-code collision is simply "not inserted" (then no event either), so no savepoint is needed per request.
      `insert into device_authorizations (${columns.join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')}) on conflict do nothing`,
    );
    this.selectByHash = raw.prepare('select * from device_authorizations where device_code_hash = ?');
    const eventColumns = Object.keys(auditEventRow(chainEvent({ type: 'admin.action', at: 0, data: {} }, 0, GENESIS_HASH, null))) as (keyof AuditEventTable)[];
    this.insertEvent = raw.prepare(
      `insert into audit_events (${eventColumns.join(', ')}) values (${eventColumns.map((c) => `@${c}`).join(', ')})`,
    );
    this.selectHead = raw.prepare('select seq, hash from audit_head where id = 1');
    this.upsertHead = raw.prepare(
      'insert into audit_head (id, seq, hash) values (1, @seq, @hash) on conflict (id) do update set seq = excluded.seq, hash = excluded.hash',
    );
    this.createWithEvents = (a, events) => {
      if (this.insertRequest.run(deviceAuthorizationRow(a)).changes === 0) return false;
      this.appendEvents(events);
      return true;
    };
  }

  /**
   * Requests that arrive in the same turn of the event loop are written in one transaction (group commit): the
   * commit is most of the cost, and nobody is answered before it. A failure other than a user-code collision
   * fails the whole batch, and every request in it is answered with that error.
   */
  override create(a: DeviceAuthorization, events: AuditEventInput[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ a, events, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private pending: { a: DeviceAuthorization; events: AuditEventInput[]; resolve: (ok: boolean) => void; reject: (e: unknown) => void }[] = [];

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const outcomes: boolean[] = [];
    try {
      await this.sqlite.exclusive(() =>
        this.sqlite.raw.transaction(() => {
          for (const item of batch) outcomes.push(this.createWithEvents(item.a, item.events));
        })(),
      );
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => item.resolve(outcomes[i] ?? false));
  }

  /**
   * A pending answer straight from the driver. Anything else is read again through the locked path: an approval
   * still inside its transaction must not be acted on before it commits.
   */
  override async findByDeviceCodeHash(hash: string): Promise<DeviceAuthorization | undefined> {
    const row = this.selectByHash.get(hash) as DeviceAuthorizationTable | undefined;
    if (row?.status === 'pending') return deviceAuthorizationFromRow(row);
    return super.findByDeviceCodeHash(hash);
  }

  /** appendAuditEvents on prepared statements, for events without a parent (as a new request's are). */
  private appendEvents(events: AuditEventInput[]): void {
    if (events.length === 0) return;
    const chain = new ChainCursor(this.selectHead.get() as ChainHead | undefined);
    for (const input of events) {
      if (input.parent) throw new Error('the SQLite fast path records only events without a parent');
      this.insertEvent.run(auditEventRow(chain.link(input, null)));
    }
    this.upsertHead.run(chain.head);
  }
}

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
