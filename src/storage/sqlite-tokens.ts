import type { Statement } from 'better-sqlite3';
import type { AuditEventInput } from '../audit/event.js';
import type { GrantRecord } from '../grants/grant.js';
import type { IssuedTokens, StoredRefreshToken } from '../tokens/token-store.js';
import { grantFromRow, SqlGrantStore } from './grants.js';
import type { GrantTable, RefreshTokenTable } from './schema.js';
import type { SqliteAuditAppender } from './sqlite-audit-append.js';
import type { SqliteGroupCommit } from './sqlite-group-commit.js';
import type { SqliteHandle } from './sqlite.js';
import { outsideTransaction } from './sqlite-outside-transaction.js';
import { refreshTokenFromRow, SqlTokenStore } from './tokens.js';

/**
 * The prepared statement for the write every token response of a refresh-token client makes (its refresh token),
 * shared by redemption and refresh. The access token is not stored (see IssuedAccessToken). Synchronous: call
 * inside a driver transaction.
 */
export class SqliteIssuedTokenWriter {
  private readonly insertRefresh: Statement;

  constructor(raw: SqliteHandle['raw']) {
    this.insertRefresh = raw.prepare(
      "insert into refresh_tokens (hash, grant_id, parent_hash, issued_at, expires_at, status) values (?, ?, ?, ?, ?, 'active')",
    );
  }

  insert({ refresh }: IssuedTokens): void {
    if (refresh) this.insertRefresh.run(refresh.hash, refresh.grantId, refresh.parentHash, refresh.issuedAt, refresh.expiresAt);
  }
}

/**
 * SQLite's fast path for refresh and introspection: the refresh-token read on a prepared statement, and the
 * rotation (old token retired, the new one recorded, audit event appended) as one savepoint of a group commit.
 * Same rows, same single-use rule (`status = 'active'` in the update that retires the old token), same atomicity
 * with the audit event as the Kysely store it extends; reads run `outsideTransaction`, so they never see another
 * transaction's uncommitted rows.
 */
export class SqliteTokenStore extends SqlTokenStore {
  private readonly selectRefresh: Statement;
  private readonly retire: Statement;

  constructor(
    private readonly sqlite: SqliteHandle,
    private readonly commit: SqliteGroupCommit,
    private readonly audit: SqliteAuditAppender,
    private readonly issued: SqliteIssuedTokenWriter,
  ) {
    super(sqlite.db);
    const { raw } = sqlite;
    this.selectRefresh = raw.prepare('select * from refresh_tokens where hash = ?');
    this.retire = raw.prepare("update refresh_tokens set status = 'rotated' where hash = ? and status = 'active'");
  }

  override async findRefreshToken(hash: string): Promise<StoredRefreshToken | undefined> {
    const r = await outsideTransaction(this.sqlite, () => this.selectRefresh.get(hash) as RefreshTokenTable | undefined);
    return r && refreshTokenFromRow(r);
  }

  override rotateRefreshToken(oldHash: string, next: Required<IssuedTokens>, events: AuditEventInput[]): Promise<boolean> {
    return this.commit.run(() => {
      if (this.retire.run(oldHash).changes !== 1) return false;
      this.issued.insert(next);
      this.audit.append(events);
      return true;
    });
  }
}

/** Grant reads on a prepared statement (every redemption, refresh and introspection reads one). */
export class SqliteGrantStore extends SqlGrantStore {
  private readonly selectGrant: Statement;

  constructor(private readonly sqlite: SqliteHandle) {
    super(sqlite.db);
    this.selectGrant = sqlite.raw.prepare('select * from grants where id = ?');
  }

  override async findGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await outsideTransaction(this.sqlite, () => this.selectGrant.get(id) as GrantTable | undefined);
    return row && grantFromRow(row);
  }
}
