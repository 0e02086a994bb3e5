import type { Kysely, Selectable } from 'kysely';
import type { AuditEventInput } from '../audit/event.js';
import type { Workload, WorkloadProof, WorkloadStatus, WorkloadStore } from '../workloads/workload.js';
import { appendAuditEvents } from './audit-log.js';
import type { Database, WorkloadTable } from './schema.js';

function workloadFromRow(r: Selectable<WorkloadTable>): Workload {
  const proof: WorkloadProof =
    r.auth_method === 'federated'
      ? {
          method: 'federated',
          issuer: r.federated_issuer ?? '',
          subject: r.federated_subject ?? '',
          claims: JSON.parse(r.federated_claims ?? '{}') as Record<string, string>,
        }
      : { method: 'key', publicJwk: JSON.parse(r.public_jwk ?? '{}') as Record<string, unknown>, jkt: r.jkt ?? '' };
  return {
    id: r.id,
    name: r.name,
    ownerId: r.owner_id,
    purpose: r.purpose,
    resources: r.resources === '' ? [] : r.resources.split(' '),
    scopes: r.scope === '' ? [] : r.scope.split(' '),
    proof,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    status: r.status,
    statusChangedAt: Number(r.status_changed_at),
    tokensRevokedBefore: r.tokens_revoked_before === null ? null : Number(r.tokens_revoked_before),
    provenance: {
      grantId: r.created_grant_id,
      jkt: r.created_jkt,
      deviceClass: r.created_device_class,
      clientId: r.created_client_id,
    },
  };
}

function proofColumns(proof: WorkloadProof) {
  return proof.method === 'federated'
    ? {
        auth_method: 'federated' as const,
        federated_issuer: proof.issuer,
        federated_subject: proof.subject,
        federated_claims: JSON.stringify(proof.claims),
        public_jwk: null,
        jkt: null,
      }
    : {
        auth_method: 'key' as const,
        federated_issuer: null,
        federated_subject: null,
        federated_claims: null,
        public_jwk: JSON.stringify(proof.publicJwk),
        jkt: proof.jkt,
      };
}

/** The workload store on Kysely; every change commits with its audit events. */
export class SqlWorkloadStore implements WorkloadStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(w: Workload, events: AuditEventInput[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('workloads')
        .values({
          id: w.id,
          name: w.name,
          owner_id: w.ownerId,
          purpose: w.purpose,
          resources: w.resources.join(' '),
          scope: w.scopes.join(' '),
          ...proofColumns(w.proof),
          created_at: w.createdAt,
          expires_at: w.expiresAt,
          last_used_at: w.lastUsedAt,
          status: w.status,
          status_changed_at: w.statusChangedAt,
          tokens_revoked_before: w.tokensRevokedBefore,
          created_grant_id: w.provenance.grantId,
          created_jkt: w.provenance.jkt,
          created_device_class: w.provenance.deviceClass,
          created_client_id: w.provenance.clientId,
        })
        .execute();
      await appendAuditEvents(tx, events);
    });
  }

  async find(id: string): Promise<Workload | undefined> {
    const row = await this.db.selectFrom('workloads').selectAll().where('id', '=', id).executeTakeFirst();
    return row && workloadFromRow(row);
  }

  async findByName(ownerId: string, name: string): Promise<Workload | undefined> {
    const row = await this.db
      .selectFrom('workloads')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('name', '=', name)
      .where('status', '!=', 'deleted')
      .executeTakeFirst();
    return row && workloadFromRow(row);
  }

  async list(ownerId?: string): Promise<Workload[]> {
    let query = this.db.selectFrom('workloads').selectAll().where('status', '!=', 'deleted');
    if (ownerId !== undefined) query = query.where('owner_id', '=', ownerId);
    return (await query.orderBy('created_at').execute()).map(workloadFromRow);
  }

  async findFederated(issuer: string, subject: string): Promise<Workload[]> {
    const rows = await this.db
      .selectFrom('workloads')
      .selectAll()
      .where('federated_issuer', '=', issuer)
      .where('federated_subject', '=', subject)
      .where('status', '=', 'active')
      .execute();
    return rows.map(workloadFromRow);
  }

  async update(
    id: string,
    change: { from: readonly WorkloadStatus[]; status: WorkloadStatus; proof?: WorkloadProof; at: number; revokeTokens: boolean },
    events: AuditEventInput[],
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const result = await tx
        .updateTable('workloads')
        .set({
          status: change.status,
          status_changed_at: change.at,
          ...(change.revokeTokens ? { tokens_revoked_before: change.at } : {}),
          ...(change.proof ? proofColumns(change.proof) : {}),
        })
        .where('id', '=', id)
        .where('status', 'in', [...change.from])
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await appendAuditEvents(tx, events);
      return true;
    });
  }

  async suspendOwned(ownerId: string, at: number, describe: (w: Workload) => AuditEventInput[]): Promise<Workload[]> {
    return this.db.transaction().execute(async (tx) => {
      const rows = await tx.selectFrom('workloads').selectAll().where('owner_id', '=', ownerId).where('status', '=', 'active').execute();
      const workloads = rows.map(workloadFromRow);
      if (workloads.length === 0) return [];
      await tx
        .updateTable('workloads')
        .set({ status: 'suspended', status_changed_at: at, tokens_revoked_before: at })
        .where('id', 'in', workloads.map((w) => w.id))
        .where('status', '=', 'active')
        .execute();
      await appendAuditEvents(tx, workloads.flatMap(describe));
      return workloads;
    });
  }

  async recordExchange(
    exchange: { jtiHash: string; expiresAt: number; workloadId: string; at: number },
    events: AuditEventInput[],
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      // An expired claim of the same jti no longer counts (the token it came from is refused before this).
      await tx.deleteFrom('workload_jtis').where('hash', '=', exchange.jtiHash).where('expires_at', '<=', exchange.at).execute();
      // One atomic insert decides the race between two presentations of the same token, on SQLite and PostgreSQL.
      const result = await tx
        .insertInto('workload_jtis')
        .values({ hash: exchange.jtiHash, expires_at: exchange.expiresAt })
        .onConflict((oc) => oc.column('hash').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
      await tx.updateTable('workloads').set({ last_used_at: exchange.at }).where('id', '=', exchange.workloadId).execute();
      await appendAuditEvents(tx, events);
      return true;
    });
  }

  async deleteExpiredJtis(now: number): Promise<number> {
    const result = await this.db.deleteFrom('workload_jtis').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
