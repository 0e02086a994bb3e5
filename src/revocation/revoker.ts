import { uuidv7 } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import type { AuditEventInput, AuditEventType } from '../audit/event.js';
import { stampMs, type Clock } from '../shared/clock.js';
import type { RevocationKind, RevocationPath, RevocationStatement, RevocationStore, RevokedGrant } from './statement.js';

export interface RevocationRequest {
  kind: RevocationKind;
  value: string | null;
  actor: string;
  reason: string;
  via: RevocationPath;
  /** Void the tokens issued so far but leave the grants alive (see RevocationStatement.tokensOnly). */
  tokensOnly?: boolean;
}

/** An extra event recorded with the revocation, per grant it ends (e.g. the reuse that caused it). */
export interface Cause {
  type: AuditEventType;
  data: Record<string, unknown>;
}

/**
 * Every revocation path (RFC 7009, the admin API, reuse detection) ends grants through this one service, and
 * each ended grant gets its `grant.revoked` audit event in the same transaction.
 */
export class Revoker {
  constructor(
    private readonly store: RevocationStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Told of each revocation after it commits (metrics, and later the event stream to guards). */
    private readonly onRevoked: (statement: RevocationStatement, grants: string[]) => void = () => undefined,
  ) {}

  /**
   * `summary` adds events about the revocation as a whole (one offboarding, say), recorded in its transaction once
   * the ended grants are known.
   */
  async revoke(
    request: RevocationRequest,
    cause?: Cause,
    summary?: (statement: RevocationStatement, grants: RevokedGrant[]) => AuditEventInput[],
  ): Promise<{ statement: RevocationStatement; grants: string[] }> {
    const now = this.clock.now();
    // The cut below is provisional: the store replaces it with one taken inside its transaction (see `cut`).
    const statement: RevocationStatement = { id: uuidv7(), issuedBefore: now, issuedBeforeMs: now * 1000 + 999, createdAt: now, ...request };
    const describe = (grants: RevokedGrant[]): AuditEventInput[] => {
      const subject = (g: RevokedGrant) => ({ at: now, userId: g.userId, clientId: g.clientId, grantId: g.id, jkt: g.jkt });
      const events: AuditEventInput[] = [];
      for (const g of grants) {
        if (cause) events.push({ ...subject(g), type: cause.type, data: cause.data });
        events.push({
          ...subject(g),
          type: 'grant.revoked',
          parent: { type: 'device.approved', grantId: g.id },
          data: { revocation: statement.id, kind: statement.kind, value: statement.value, actor: statement.actor, reason: statement.reason, via: statement.via },
        });
      }
      if (request.via === 'admin_api') {
        events.push({
          type: 'admin.action',
          at: now,
          data: { action: 'revoke', revocation: statement.id, kind: statement.kind, value: statement.value, actor: statement.actor, reason: statement.reason, grants_revoked: grants.length },
        });
      }
      if (summary) events.push(...summary(statement, grants));
      return events;
    };
    const grants = await this.store.applyRevocation(statement, describe, () => stampMs(this.clock));
    this.onRevoked(statement, grants);
    const level = request.via === 'refresh_token_reuse' ? 'warn' : 'info';
    this.logger[level](
      { revocation: statement.id, kind: statement.kind, value: statement.value, via: statement.via, actor: statement.actor, grants: grants.length },
      request.via === 'refresh_token_reuse' ? 'security event: refresh token reuse, grant revoked' : 'revoked',
    );
    return { statement, grants };
  }
}
