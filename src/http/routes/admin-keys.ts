import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEventInput } from '../../audit/event.js';
import { RotationInProgress, type KeyRing, type RotationPlan } from '../../tokens/signing-keys.js';
import { noStore } from '../oauth-reply.js';

export interface KeyAdminDeps {
  keys: KeyRing;
  /** How long a new key is published before it signs: at least the age at which guards refetch the JWKS. */
  publishAhead: number;
  /** How long an old key stays published after its successor signs: the longest token lifetime, plus leeway. */
  retireAfter: number;
  /** Records the rotation in the audit log. */
  audit: (events: AuditEventInput[]) => Promise<void>;
  now: () => number;
}

/**
 * `GET /admin/keys` lists the signing keys and their schedule; `POST /admin/keys/rotate` starts a rotation
 * (see {@link KeyRing.rotate}). Registered inside the admin scope, behind the admin key.
 */
export function registerKeyAdminRoutes(admin: FastifyInstance, deps: KeyAdminDeps): void {
  admin.get('/admin/keys', async (_request, reply) => noStore(reply).send({ keys: deps.keys.status() }));

  admin.post('/admin/keys/rotate', async (request, reply) => {
    const actor = (request as FastifyRequest & { adminActor?: string }).adminActor ?? 'admin';
    let plan: RotationPlan;
    try {
      plan = await deps.keys.rotate({ publishAhead: deps.publishAhead, retireAfter: deps.retireAfter });
    } catch (error) {
      if (!(error instanceof RotationInProgress)) throw error;
      return noStore(reply).code(409).send({ error: 'rotation_in_progress', error_description: error.message, activates_at: error.activatesAt });
    }
    await deps.audit([{ type: 'admin.action', at: deps.now(), data: { action: 'keys.rotate', actor, ...planJson(plan) } }]);
    request.log.warn({ actor, kid: plan.kid, activates_at: plan.activatesAt }, 'signing key rotation started');
    return noStore(reply).code(201).send(planJson(plan));
  });
}

function planJson(plan: RotationPlan) {
  return {
    kid: plan.kid,
    published_at: plan.publishedAt,
    activates_at: plan.activatesAt,
    retiring: plan.retiring.map((r) => ({ kid: r.kid, retired_at: r.retiredAt })),
  };
}
