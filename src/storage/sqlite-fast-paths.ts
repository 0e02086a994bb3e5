import { SqliteAuditAppender } from './sqlite-audit-append.js';
import { SqliteAuditLog } from './sqlite-audit-log.js';
import { SqliteDeviceAuthorizationStore } from './sqlite-device-authorizations.js';
import { SqliteGroupCommit } from './sqlite-group-commit.js';
import { SqliteGrantStore, SqliteIssuedTokenWriter, SqliteTokenStore } from './sqlite-tokens.js';
import { SqliteDirectoryStore, SqliteUpstreamUserStore } from './sqlite-users.js';
import type { SqliteHandle } from './sqlite.js';

/**
 * The stores of the hot paths on SQLite: one group commit and one audit appender shared by device requests,
 * redemptions, refreshes and standalone audit events, so they batch together and append to one chain in order;
 * and the person's reads every issuance and refresh makes.
 * See docs/architecture.md, "A SQLite fast path where it pays".
 */
export function sqliteFastPaths(sqlite: SqliteHandle) {
  const commit = new SqliteGroupCommit(sqlite);
  const appender = new SqliteAuditAppender(sqlite.raw);
  const issued = new SqliteIssuedTokenWriter(sqlite.raw);
  return {
    deviceAuthorizations: new SqliteDeviceAuthorizationStore(sqlite, commit, appender, issued),
    tokens: new SqliteTokenStore(sqlite, commit, appender, issued),
    grants: new SqliteGrantStore(sqlite),
    audit: new SqliteAuditLog(sqlite, commit, appender),
    directory: new SqliteDirectoryStore(sqlite),
    upstreamUsers: new SqliteUpstreamUserStore(sqlite),
  };
}
