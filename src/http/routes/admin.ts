import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AdminKeys } from '../../admin/admin-keys.js';
import type { Revoker } from '../../revocation/revoker.js';
import type { RevocationStore } from '../../revocation/statement.js';
import { InvalidRequest, OAuthError } from '../../oauth/errors.js';
import { noStore } from '../oauth-reply.js';

/** An admin call without a valid admin key (RFC 6750 §3.1 challenge). */
class AdminUnauthorized extends OAuthError {
  readonly code = 'invalid_client';
  override readonly status = 401;
  override readonly headers = { 'www-authenticate': 'Bearer realm="tether-admin"' };
}

const revocationBody = z
  .object({
    kind: z.enum(['grant', 'user', 'jkt', 'client', 'all']),
    value: z.string().min(1).max(200).optional(),
    reason: z.string().max(500).default('revoked by an administrator'),
  })
  .strict()
  .refine((b) => (b.kind === 'all') === (b.value === undefined), {
    message: 'value is required, except for kind "all" which takes none',
    path: ['value'],
  });

export interface AdminDeps {
  keys: AdminKeys;
  revoker: Revoker;
  revocations: RevocationStore;
}

/**
 * The admin API: revoke by grant, user, device key thumbprint, client, or all device-flow grants at once (the
 * incident kill switch), and list past revocations. JSON in and out, authenticated by an admin key.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.register(async (admin) => {
    admin.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(new InvalidRequest('The body is not valid JSON.'), undefined);
      }
    });
    admin.addHook('onRequest', async (request: FastifyRequest) => {
      const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
      const actor = deps.keys.authenticate(match?.[1]);
      if (!actor) throw new AdminUnauthorized('A valid admin key is required.');
      (request as FastifyRequest & { adminActor?: string }).adminActor = actor;
    });

    admin.post('/admin/revocations', async (request, reply) => {
      const parsed = revocationBody.safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
      }
      const actor = (request as FastifyRequest & { adminActor?: string }).adminActor ?? 'admin';
      const { statement, grants } = await deps.revoker.revoke({
        kind: parsed.data.kind,
        value: parsed.data.value ?? null,
        actor,
        reason: parsed.data.reason,
        via: 'admin_api',
      });
      return noStore(reply).code(201).send({ revocation: statement, grants_revoked: grants.length, grants });
    });

    admin.get('/admin/revocations', async (request, reply) => {
      const since = Number((request.query as Record<string, unknown>)['since'] ?? 0);
      if (!Number.isFinite(since) || since < 0) throw new InvalidRequest('since must be a time in seconds.');
      return noStore(reply).send({ revocations: await deps.revocations.listRevocations(since) });
    });
  });
}
