import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DeviceEvents, DeviceStore } from '../devices/device-store.js';
import { pendingDeviceRecord, type DeviceRecord, type TrustedClass } from '../policy/device-trust.js';
import type { DeviceClass } from '../policy/types.js';
import { appendAuditEvents } from './audit-log.js';
import type { Database, DeviceTable } from './schema.js';

type Tx = Transaction<Database>;

function deviceFromRow(r: Selectable<DeviceTable>): DeviceRecord {
  return {
    jkt: r.jkt,
    name: r.name,
    requestedClass: r.requested_class,
    status: r.status,
    class: r.class,
    trust: r.trust,
    decidedBy: r.decided_by,
    enrolledAt: Number(r.enrolled_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  };
}

function deviceRow(d: DeviceRecord): DeviceTable {
  return {
    jkt: d.jkt,
    name: d.name,
    requested_class: d.requestedClass,
    status: d.status,
    class: d.class,
    trust: d.trust,
    decided_by: d.decidedBy,
    enrolled_at: d.enrolledAt,
    decided_at: d.decidedAt,
  };
}

/**
 * Enrolled device keys, with the same rules as the policy module's InMemoryDeviceRegistry: a key is trusted only
 * while approved (by an administrator or an attestation); enrolling again never lowers an approved key to pending.
 * Each change and its audit events commit in one transaction.
 */
export class SqlDeviceStore implements DeviceStore {
  constructor(private readonly db: Kysely<Database>) {}

  async classOf(jkt: string): Promise<TrustedClass | undefined> {
    const r = await this.db.selectFrom('devices').select(['class', 'trust']).where('jkt', '=', jkt).where('status', '=', 'approved').executeTakeFirst();
    return r?.class && r.trust ? { class: r.class, trust: r.trust } : undefined;
  }

  async get(jkt: string): Promise<DeviceRecord | undefined> {
    const r = await this.db.selectFrom('devices').selectAll().where('jkt', '=', jkt).executeTakeFirst();
    return r && deviceFromRow(r);
  }

  async list(): Promise<DeviceRecord[]> {
    const rows = await this.db.selectFrom('devices').selectAll().orderBy('enrolled_at').orderBy('jkt').execute();
    return rows.map(deviceFromRow);
  }

  async approvedClasses(): Promise<Map<string, TrustedClass>> {
    const rows = await this.db.selectFrom('devices').select(['jkt', 'class', 'trust']).where('status', '=', 'approved').execute();
    const map = new Map<string, TrustedClass>();
    for (const r of rows) if (r.class && r.trust) map.set(r.jkt, { class: r.class, trust: r.trust });
    return map;
  }

  async countPending(): Promise<number> {
    const row = await this.db
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  enroll(request: { jkt: string; name: string; requestedClass: DeviceClass; now: number }, events?: DeviceEvents): Promise<DeviceRecord> {
    return this.db.transaction().execute(async (tx) => {
      const existing = await this.find(tx, request.jkt);
      if (existing?.status === 'approved') return existing;
      const record = pendingDeviceRecord(request);
      return this.save(tx, record, existing !== undefined, events);
    });
  }

  approve(jkt: string, decision: { by: string; now: number; class?: DeviceClass }, events?: DeviceEvents): Promise<DeviceRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const existing = await this.find(tx, jkt);
      if (!existing) return undefined;
      const record: DeviceRecord = {
        ...existing,
        status: 'approved',
        class: decision.class ?? existing.requestedClass,
        trust: 'admin',
        decidedBy: decision.by,
        decidedAt: decision.now,
      };
      return this.save(tx, record, true, events);
    });
  }

  attest(jkt: string, evidence: { verifier: string; class: DeviceClass; name: string; now: number }): Promise<DeviceRecord> {
    return this.db.transaction().execute(async (tx) => {
      const existing = await this.find(tx, jkt);
      const record: DeviceRecord = {
        jkt,
        name: existing?.name ?? evidence.name,
        requestedClass: evidence.class,
        status: 'approved',
        class: evidence.class,
        trust: 'attestation',
        decidedBy: evidence.verifier,
        enrolledAt: existing?.enrolledAt ?? evidence.now,
        decidedAt: evidence.now,
      };
      return this.save(tx, record, existing !== undefined);
    });
  }

  revoke(jkt: string, decision: { by: string; now: number }, events?: DeviceEvents): Promise<DeviceRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const existing = await this.find(tx, jkt);
      if (!existing) return undefined;
      const record: DeviceRecord = { ...existing, status: 'revoked', class: null, trust: null, decidedBy: decision.by, decidedAt: decision.now };
      return this.save(tx, record, true, events);
    });
  }

  private async find(tx: Tx, jkt: string): Promise<DeviceRecord | undefined> {
    const r = await tx.selectFrom('devices').selectAll().where('jkt', '=', jkt).executeTakeFirst();
    return r && deviceFromRow(r);
  }

  private async save(tx: Tx, record: DeviceRecord, exists: boolean, events?: DeviceEvents): Promise<DeviceRecord> {
    const row = deviceRow(record);
    if (exists) {
      const { jkt, ...rest } = row;
      await tx.updateTable('devices').set(rest).where('jkt', '=', jkt).execute();
    } else {
      await tx.insertInto('devices').values(row).execute();
    }
    if (events) await appendAuditEvents(tx, events(record));
    return record;
  }
}
