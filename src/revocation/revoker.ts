import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import type { RevocationKind, RevocationPath, RevocationStatement, RevocationStore } from './statement.js';

export interface RevocationRequest {
  kind: RevocationKind;
  value: string | null;
  actor: string;
  reason: string;
  via: RevocationPath;
}

/** Every revocation path (RFC 7009, the admin API, reuse detection) ends grants through this one service. */
export class Revoker {
  constructor(
    private readonly store: RevocationStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async revoke(request: RevocationRequest): Promise<{ statement: RevocationStatement; grants: string[] }> {
    const now = this.clock.now();
    const statement: RevocationStatement = { id: randomUUID(), issuedBefore: now, createdAt: now, ...request };
    const grants = await this.store.applyRevocation(statement);
    const level = request.via === 'refresh_token_reuse' ? 'warn' : 'info';
    this.logger[level](
      { revocation: statement.id, kind: statement.kind, value: statement.value, via: statement.via, actor: statement.actor, grants: grants.length },
      request.via === 'refresh_token_reuse' ? 'security event: refresh token reuse, grant revoked' : 'revoked',
    );
    return { statement, grants };
  }
}
