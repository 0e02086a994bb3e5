import { uuidv7 } from '../shared/ids.js';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { AuditEvent, AuditEventInput, AuditEventType, AuditLog, AuditQuery, ParentRef } from '../audit/event.js';
import { appendedEventHash, canonicalJson, GENESIS_HASH, type ChainedContent } from '../audit/hash-chain.js';
import type { Checkpoint } from '../audit/verify.js';
import { GRANT_BLOCK_EVENTS, grantBlockRuns } from './audit-grant-blocks.js';
import { engineOf } from './dialect.js';
import { fitsTwoStatements, lockHeadFindingParent, writeEventsAndHead } from './postgres-audit-append.js';
import type { AuditEventTable, Database } from './schema.js';

type Tx = Transaction<Database> | Kysely<Database>;

/**
 * Appends events to the chain inside the caller's transaction, so a state change and the event that records it
 * commit together or not at all.
 */
export async function appendAuditEvents(tx: Tx, inputs: readonly AuditEventInput[]): Promise<void> {
  if (inputs.length === 0) return;
  // PostgreSQL: fewer round trips while the head is locked (postgres-audit-append.ts).
  if (tx.isTransaction && engineOf<Database>(tx) === 'postgres' && fitsTwoStatements(inputs)) {
    const parent = inputs[0]?.parent;
    const locked = await lockHeadFindingParent(tx as Transaction<Database>, headLock(tx), parent && parentQuery(tx, parent));
    const chain = new ChainCursor(locked);
    const rows = inputs.map((input, i) => chain.link(input, i === 0 ? locked.parentId : null));
    return writeEventsAndHead(tx as Transaction<Database>, rows, chain.head);
  }
  const head = await lockAuditHead(tx);
  const chain = new ChainCursor(head);
  for (const input of inputs) {
    // Looked up one by one, after the earlier events of this append are written: a parent may be among them.
    const parentId = input.parent ? await findParent(tx, input.parent) : null;
    await tx.insertInto('audit_events').values(chain.link(input, parentId)).execute();
  }
  await tx.updateTable('audit_head').set(chain.head).where('id', '=', 1).execute();
}

/** The chain's end as `audit_head` stores it: the last event's position and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Walks the chain forward from its stored head: the one place that numbers and links appended events. Both
 * appends use it, {@link appendAuditEvents} on Kysely and the synchronous SQLite fast path
 * (`sqlite-device-authorizations.ts`); they differ only in how they read and write rows.
 */
export class ChainCursor {
  private seq: number;
  private hash: string;

  /** `head` as read inside the appending transaction; absent before the first event. */
  constructor(head: { seq: number | string | bigint; hash: string } | undefined) {
    this.seq = head ? Number(head.seq) : 0;
    this.hash = head?.hash ?? GENESIS_HASH;
  }

  /** The next event's row, linked to the one before; the cursor moves past it. */
  link(input: AuditEventInput, parentId: string | null): AuditEventTable {
    const row = chainedRow(input, this.seq, this.hash, parentId);
    this.seq = row.seq;
    this.hash = row.hash;
    return row;
  }

  /** The head to store once the linked events are written. */
  get head(): ChainHead {
    return { seq: this.seq, hash: this.hash };
  }
}

/**
 * Takes the chain's head row for the rest of the caller's transaction and returns the head as committed. One
 * statement on both engines: an upsert that "updates" the row to itself. On PostgreSQL that row lock makes a
 * second instance's append wait for this transaction to end, and then (READ COMMITTED: each statement sees what
 * committed before it) read the head this one wrote, so the chain never forks. The first append ever inserts the
 * row; two racing first appends meet in the same conflict clause instead of failing. On SQLite the write takes
 * the database's single write lock.
 */
export async function lockAuditHead(tx: Tx): Promise<{ seq: number; hash: string }> {
  const head = await headLock(tx).executeTakeFirstOrThrow();
  return { seq: Number(head.seq), hash: head.hash };
}

/** The statement of {@link lockAuditHead}, unrun. */
function headLock(tx: Tx) {
  return tx
    .insertInto('audit_head')
    .values({ id: 1, seq: 0, hash: GENESIS_HASH })
    .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ seq: eb.ref('audit_head.seq') })))
    .returning(['seq', 'hash']);
}

/**
 * The next link of the chain as the row that stores it: the event with its position, its predecessor's hash and
 * its own hash. `data` is serialized once, canonically, for both the row and the hash, and the hash is taken over
 * the canonical text written in its fixed key order (appendedEventHash): the bytes verification recomputes from
 * the stored row, so events appended before and after this shortcut verify alike.
 */
export function chainedRow(input: AuditEventInput, seq: number, prevHash: string, parentId: string | null): AuditEventTable {
  const data = canonicalJson(input.data);
  const content: ChainedContent = {
    seq: seq + 1,
    id: uuidv7(),
    type: input.type,
    at: input.at,
    userId: input.userId ?? null,
    clientId: input.clientId ?? null,
    grantId: input.grantId ?? null,
    deviceAuthorizationId: input.deviceAuthorizationId ?? null,
    jti: input.jti ?? null,
    jkt: input.jkt ?? null,
    parentId,
  };
  return {
    seq: content.seq,
    id: content.id,
    type: content.type,
    at: content.at,
    user_id: content.userId,
    client_id: content.clientId,
    grant_id: content.grantId,
    device_authorization_id: content.deviceAuthorizationId,
    jti: content.jti,
    jkt: content.jkt,
    parent_id: parentId,
    data,
    prev_hash: prevHash,
    hash: appendedEventHash(prevHash, content, data),
  };
}

async function findParent(tx: Tx, parent: ParentRef): Promise<string | null> {
  const row = await parentQuery(tx, parent).executeTakeFirst();
  return row?.id ?? null;
}

/** The newest event of the parent's type that names what `parent` names. */
function parentQuery(tx: Tx, parent: ParentRef) {
  // The type as a literal, not a parameter: only then can the planner prove the lookup is within the partial
  // index of parent types (migration 0009). It is one of PARENT_EVENT_TYPES, never outside input.
  let query = tx.selectFrom('audit_events').select('id').where('type', '=', sql.lit(parent.type));
  if (parent.grantId) query = query.where('grant_id', '=', parent.grantId);
  if (parent.deviceAuthorizationId) query = query.where('device_authorization_id', '=', parent.deviceAuthorizationId);
  if (parent.jti) query = query.where('jti', '=', parent.jti);
  return query.orderBy('seq', 'desc').limit(1);
}

/** A stored row as an event; `data` that no longer parses is kept as raw text so verification can flag it. */
export function auditEventFromRow(r: Selectable<AuditEventTable>): AuditEvent {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(r.data) as Record<string, unknown>;
  } catch {
    data = { unparseable: r.data };
  }
  return {
    seq: Number(r.seq),
    id: r.id,
    type: r.type as AuditEventType,
    at: Number(r.at),
    userId: r.user_id,
    clientId: r.client_id,
    grantId: r.grant_id,
    deviceAuthorizationId: r.device_authorization_id,
    jti: r.jti,
    jkt: r.jkt,
    parentId: r.parent_id,
    data,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export class SqlAuditLog implements AuditLog {
  constructor(private readonly db: Kysely<Database>) {}

  async record(events: AuditEventInput[]): Promise<void> {
    await this.db.transaction().execute((tx) => appendAuditEvents(tx, events));
  }

  async query(q: AuditQuery): Promise<AuditEvent[]> {
    const limit = q.limit ?? 10_000;
    if (!q.grantId) return this.select(q, undefined, limit);
    // By grant: block by block of the trace index (migration 0009), oldest first, so the runs come in seq order.
    const last = await this.db.selectFrom('audit_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    const found: AuditEvent[] = [];
    for (const blocks of grantBlockRuns(q.afterSeq ?? 0, Number(last?.seq ?? 0))) {
      found.push(...(await this.select(q, blocks, limit - found.length)));
      if (found.length >= limit) break;
    }
    return found;
  }

  private async select(q: AuditQuery, grantBlocks: number[] | undefined, limit: number): Promise<AuditEvent[]> {
    let query = this.db.selectFrom('audit_events').selectAll();
    if (q.userId) query = query.where('user_id', '=', q.userId);
    if (q.clientId) query = query.where('client_id', '=', q.clientId);
    if (q.grantId) query = query.where('grant_id', '=', q.grantId);
    // The same expression as the index's key, or the planner would not match it.
    if (grantBlocks) query = query.where(sql<number>`seq / ${sql.lit(GRANT_BLOCK_EVENTS)}`, 'in', grantBlocks);
    if (q.deviceAuthorizationId) query = query.where('device_authorization_id', '=', q.deviceAuthorizationId);
    if (q.jti) query = query.where('jti', '=', q.jti);
    if (q.type) query = query.where('type', '=', q.type);
    if (q.since !== undefined) query = query.where('at', '>=', q.since);
    if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map(auditEventFromRow);
  }
}

/** Checkpoints of the audit chain, and what verification reads. */
export class SqlAuditCheckpoints {
  constructor(private readonly db: Kysely<Database>) {}

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    const row = await this.db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
    // seq 0 is the genesis row an append inserts before its first event; there is nothing to sign yet.
    return row && Number(row.seq) > 0 ? { seq: Number(row.seq), hash: row.hash } : undefined;
  }

  async lastCheckpoint(): Promise<Checkpoint | undefined> {
    const row = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row && { seq: Number(row.seq), hash: row.hash, at: Number(row.at), signature: row.signature };
  }

  async insertCheckpoint(c: Checkpoint): Promise<void> {
    // Several instances sign the same head now and then; the first signature stands, the others add nothing.
    await this.db
      .insertInto('audit_checkpoints')
      .values(c)
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq').execute();
    return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, at: Number(r.at), signature: r.signature }));
  }

  async allEvents(): Promise<AuditEvent[]> {
    const rows = await this.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
    return rows.map(auditEventFromRow);
  }
}
