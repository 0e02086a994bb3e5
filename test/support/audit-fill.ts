import type { Kysely } from 'kysely';
import type { AuditEventInput } from '../../src/audit/event.js';
import { GENESIS_HASH } from '../../src/audit/hash-chain.js';
import { chainedRow } from '../../src/storage/audit-log.js';
import type { Database } from '../../src/storage/schema.js';

/**
 * Appends `count` events to the audit chain as the server would have written them (chainedRow, no parents), 500
 * rows per statement: a log that spans several blocks of the grant trace index in seconds, and still one chain
 * that verifies.
 */
export async function fillAuditChain(db: Kysely<Database>, count: number, eventOf: (i: number) => AuditEventInput): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const head = await tx.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
    let seq = Number(head?.seq ?? 0);
    let hash = head?.hash ?? GENESIS_HASH;
    for (let done = 0; done < count; ) {
      const rows = [];
      for (const end = Math.min(count, done + 500); done < end; done++) {
        const row = chainedRow(eventOf(done), seq, hash, null);
        rows.push(row);
        seq = row.seq;
        hash = row.hash;
      }
      await tx.insertInto('audit_events').values(rows).execute();
    }
    await tx
      .insertInto('audit_head')
      .values({ id: 1, seq, hash })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seq, hash }))
      .execute();
  });
}
