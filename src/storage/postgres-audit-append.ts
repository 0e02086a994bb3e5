import { sql, type InsertQueryBuilder, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { AuditEventInput } from '../audit/event.js';
import type { AuditEventTable, Database } from './schema.js';

// The statements of `appendAuditEvents` on PostgreSQL: two instead of three plus one per event, for the same chain
// (audit-log.ts ChainCursor links the rows in between), the same rows and the same head row lock. On PostgreSQL
// every statement is a round trip to the server, and the head's row lock is held from the statement that takes it
// until the commit, so each statement after it is paid by every append of every instance, which all queue on that
// one row. Here the lock is taken together with the first event's parent lookup, and the events are written
// together with the new head: one statement between the lock and the commit where there were three.

/**
 * Whether an append can take the two statements: only its first event may name a parent. That lookup runs on the
 * snapshot its statement starts with, which a wait for the lock does not renew (READ COMMITTED renews it per
 * statement). That is safe because a parent is always older than its child's request: a device.approved commits
 * before its code can be redeemed, a token.issued before its refresh token exists, a workload.created before the
 * workload can exchange, a device_code.requested before its user code can be approved. A later event's parent may
 * be an earlier event of the same append; the general path looks each one up after the events before it are
 * written.
 */
export function fitsTwoStatements(inputs: readonly AuditEventInput[]): boolean {
  return inputs.slice(1).every((input) => input.parent === undefined);
}

/**
 * The first statement: `headLock` (audit-log.ts lockAuditHead's upsert, which takes the head's row lock and
 * returns the head as committed) with, when there is one, `parent` (its lookup of the first event's parent).
 */
export async function lockHeadFindingParent(tx: Transaction<Database>, headLock: HeadLock, parent: ParentLookup | undefined): Promise<LockedHead> {
  const row = await tx
    .with('head', () => headLock)
    .selectFrom('head')
    .select(['head.seq', 'head.hash'])
    .select(parent ? parent.as('parent_id') : sql<null>`null`.as('parent_id'))
    .executeTakeFirstOrThrow();
  return { seq: Number(row.seq), hash: row.hash, parentId: row.parent_id };
}

/** The second statement: writes the linked rows and moves the head past them. */
export async function writeEventsAndHead(tx: Transaction<Database>, rows: AuditEventTable[], head: { seq: number; hash: string }): Promise<void> {
  await tx
    .with('appended', (db) => db.insertInto('audit_events').values(rows))
    .updateTable('audit_head')
    .set(head)
    .where('id', '=', 1)
    .execute();
}

/** An upsert of the head row that returns it. */
export type HeadLock = InsertQueryBuilder<Database, 'audit_head', { seq: number; hash: string }>;

/** A query of one `id` column (at most one row): run here as a subquery of the first statement. */
export type ParentLookup = SelectQueryBuilder<Database, 'audit_events', { id: string }>;

export interface LockedHead {
  seq: number;
  hash: string;
  /** The first event's parent, or null (none asked, or none found). */
  parentId: string | null;
}
