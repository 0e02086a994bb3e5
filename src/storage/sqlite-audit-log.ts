import type { AuditEventInput } from '../audit/event.js';
import { SqlAuditLog } from './audit-log.js';
import type { SqliteAuditAppender } from './sqlite-audit-append.js';
import type { SqliteGroupCommit } from './sqlite-group-commit.js';
import type { SqliteHandle } from './sqlite.js';

/**
 * Audit events recorded on their own (an introspection, a refusal) through the group commit: one transaction for
 * every event of an event-loop turn, each answered only once its event is committed. Queries stay on Kysely.
 */
export class SqliteAuditLog extends SqlAuditLog {
  constructor(
    sqlite: SqliteHandle,
    private readonly commit: SqliteGroupCommit,
    private readonly appender: SqliteAuditAppender,
  ) {
    super(sqlite.db);
  }

  override async record(events: AuditEventInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.commit.run(() => this.appender.append(events));
  }
}
