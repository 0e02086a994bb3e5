import type { Logger } from '../shared/logger.js';
import type { AuditEventInput } from '../audit/event.js';
import type { Revoker } from '../revocation/revoker.js';

/** Why a person is offboarded. */
export type OffboardReason = 'deactivated' | 'deleted';

export interface OffboardRequest {
  userId: string;
  userName: string;
  reason: OffboardReason;
  /** Who asked: the directory (a SCIM client, named by its token's hash prefix) or an administrator. */
  actor: string;
  at: number;
}

/** What a hook did, recorded in the offboarding's audit event (e.g. `{ workloads_suspended: 3 }`). */
export type OffboardOutcome = Record<string, unknown>;

/**
 * Told of every offboarding before grants are revoked: the port for other holders of a person's access, such as
 * a workload service that suspends the workloads the person owns. The composition root passes hooks to
 * `createTether({ offboardHooks })`. A hook that fails does not stop the revocation; its failure is audited.
 */
export type OffboardHook = (request: OffboardRequest) => Promise<OffboardOutcome | void>;

export interface OffboardingDeps {
  revoker: Revoker;
  hooks?: readonly OffboardHook[];
  logger?: Pick<Logger, 'info' | 'error'>;
}

/**
 * Offboarding: a person the directory deactivated or deleted loses everything at once. Their hooks run (workloads
 * suspended), then every grant they hold is revoked by one `user` statement, which ends their refresh tokens and
 * reaches guards over /events; the whole is recorded as one `user.offboarded` event in the revocation's transaction.
 * Reactivating the person later gives nothing back: revoked grants stay revoked.
 */
export class Offboarding {
  private readonly hooks: OffboardHook[];

  constructor(private readonly deps: OffboardingDeps) {
    this.hooks = [...(deps.hooks ?? [])];
  }

  /** Adds a hook (a service that starts after the server was built). */
  addHook(hook: OffboardHook): void {
    this.hooks.push(hook);
  }

  async offboard(request: OffboardRequest): Promise<{ revocation: string; grantsRevoked: number; hooks: OffboardOutcome[] }> {
    const outcomes: OffboardOutcome[] = [];
    for (const hook of this.hooks) {
      try {
        outcomes.push((await hook(request)) ?? {});
      } catch (error) {
        // The grants must go even if a hook cannot run; the failure is in the audit event for someone to finish.
        this.deps.logger?.error({ err: error, user: request.userId }, 'offboarding hook failed');
        outcomes.push({ failed: true, error: error instanceof Error ? error.message.slice(0, 200) : 'hook failed' });
      }
    }
    const { statement, grants } = await this.deps.revoker.revoke(
      { kind: 'user', value: request.userId, actor: request.actor, reason: `user ${request.reason} by the directory`, via: 'offboarding' },
      undefined,
      (s, revoked): AuditEventInput[] => [
        {
          type: 'user.offboarded',
          at: request.at,
          userId: request.userId,
          data: {
            actor: request.actor,
            reason: request.reason,
            user_name: request.userName,
            revocation: s.id,
            grants_revoked: revoked.length,
            grants: revoked.map((g) => g.id),
            hooks: outcomes,
          },
        },
      ],
    );
    this.deps.logger?.info({ user: request.userId, reason: request.reason, actor: request.actor, grants: grants.length }, 'user offboarded');
    return { revocation: statement.id, grantsRevoked: grants.length, hooks: outcomes };
  }
}
