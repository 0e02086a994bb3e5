import type { Database as Driver, Statement } from 'better-sqlite3';
import type { AuditEventInput, ParentEventType, ParentRef } from '../audit/event.js';
import { GENESIS_HASH } from '../audit/hash-chain.js';
import { ChainCursor, chainedRow, type ChainHead } from './audit-log.js';
import type { AuditEventTable } from './schema.js';

/**
 * `appendAuditEvents` on prepared statements, for SQLite's synchronous fast paths: the same chain (ChainCursor),
 * the same rows, the same parent lookup, read and written inside the caller's transaction. Runs only inside a
 * driver transaction (the group commit's, or the device store's), which is what serializes appends.
 */
export class SqliteAuditAppender {
  private readonly insertEvent: Statement;
  private readonly selectHead: Statement;
  private readonly upsertHead: Statement;
  private readonly parentQueries = new Map<string, Statement>();

  constructor(private readonly raw: Driver) {
    const eventColumns = Object.keys(chainedRow({ type: 'admin.action', at: 0, data: {} }, 0, GENESIS_HASH, null)) as (keyof AuditEventTable)[];
    // Positional parameters, bound from the row's values in the order chainedRow writes them (the order of
    // eventColumns): binding by name costs a lookup per column on every append.
    this.insertEvent = raw.prepare(
      `insert into audit_events (${eventColumns.join(', ')}) values (${eventColumns.map(() => '?').join(', ')})`,
    );
    this.selectHead = raw.prepare('select seq, hash from audit_head where id = 1');
    this.upsertHead = raw.prepare(
      'insert into audit_head (id, seq, hash) values (1, @seq, @hash) on conflict (id) do update set seq = excluded.seq, hash = excluded.hash',
    );
  }

  /** Appends `inputs` to the chain; call inside a driver transaction. */
  append(inputs: readonly AuditEventInput[]): void {
    if (inputs.length === 0) return;
    const chain = this.open();
    chain.append(inputs);
    chain.close();
  }

  /**
   * The chain for several appends in one driver transaction with no savepoint between them (a batch that commits
   * or rolls back whole): the head is read once at the start and written once at `close`, instead of once per
   * append. Nothing else may append in that transaction before `close`.
   */
  open(): { append(inputs: readonly AuditEventInput[]): void; close(): void } {
    const chain = new ChainCursor(this.selectHead.get() as ChainHead | undefined);
    let moved = false;
    return {
      append: (inputs) => {
        for (const input of inputs) {
          // Looked up after the earlier events of this append are written: a parent may be among them.
          const row = chain.link(input, input.parent ? this.findParent(input.parent) : null);
          this.insertEvent.run(...Object.values(row));
          moved = true;
        }
      },
      close: () => {
        if (moved) this.upsertHead.run(chain.head);
      },
    };
  }

  /** The latest event matching `parent`, as `findParent` of audit-log.ts finds it. */
  private findParent(parent: ParentRef): string | null {
    const fields = PARENT_FIELDS.filter((f) => parent[f]);
    const key = `${parent.type}:${fields.join(',')}`;
    let query = this.parentQueries.get(key);
    if (!query) {
      query = this.raw.prepare(parentLookupSql(parent.type, fields)).pluck();
      this.parentQueries.set(key, query);
    }
    const id = query.get(...fields.map((f) => parent[f])) as string | undefined;
    return id ?? null;
  }
}

type ParentField = 'grantId' | 'deviceAuthorizationId' | 'jti';
const PARENT_FIELDS: readonly ParentField[] = ['grantId', 'deviceAuthorizationId', 'jti'];
const PARENT_COLUMNS = { grantId: 'grant_id', deviceAuthorizationId: 'device_authorization_id', jti: 'jti' } as const;

/**
 * The statement that finds a parent: the newest event of `type` with the given ids, bound in the order of
 * `fields`. The type is written in as a literal, not bound: SQLite uses the partial index of parent types
 * (migration 0009) only when it can prove the query asks within it, which it cannot for a parameter.
 */
export function parentLookupSql(type: ParentEventType, fields: readonly ParentField[]): string {
  const where = [`type = '${type.replaceAll("'", "''")}'`, ...fields.map((f) => `${PARENT_COLUMNS[f]} = ?`)].join(' and ');
  return `select id from audit_events where ${where} order by seq desc limit 1`;
}
