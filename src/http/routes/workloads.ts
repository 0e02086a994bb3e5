import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '../json-body.js';
import type { Guard } from '../../guard/guard.js';
import { DEVICE_CLASSES } from '../../policy/types.js';
import { InvalidRequest, OAuthError } from '../../oauth/errors.js';
import { describeWorkload, type OwnerLogin, type WorkloadService } from '../../workloads/workload-service.js';
import { workloadIdOf, type Workload, type WorkloadChange } from '../../workloads/workload.js';
import { noStore } from '../oauth-reply.js';
import { requestContext } from '../request-context.js';

export interface WorkloadRoutesDeps {
  issuer: string;
  service: WorkloadService;
  /** The guard that checks the person's DPoP-bound access token, as for any Tether-protected API. */
  guard: Guard;
  /** `workloads.stale_after`: unused this long, a workload is flagged stale. */
  staleAfter: number;
  now: () => number;
}

/** A request by something that is not a person's own login (a workload, a delegated tool). */
class NotAPerson extends OAuthError {
  readonly code = 'access_denied';
  override readonly status = 403;
}

const createBody = z
  .object({
    name: z.string().min(1).max(63),
    purpose: z.string().min(1).max(500),
    resources: z.array(z.string().min(1)).min(1).max(20),
    scopes: z.array(z.string().min(1)).min(1).max(50),
    expires_in: z.number().int().positive().describe('seconds from now; required: a workload always ends'),
    federated: z
      .object({
        issuer: z.string().min(1),
        subject: z.string().min(1).max(500),
        claims: z.record(z.string(), z.string().max(500)).default({}),
      })
      .strict()
      .optional(),
    public_key: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((b) => (b.federated === undefined) !== (b.public_key === undefined), {
    message: 'give exactly one of federated or public_key',
    path: ['federated'],
  });

const rotateBody = z.object({ public_key: z.record(z.string(), z.unknown()) }).strict();


/** What the API says about a workload: everything but secrets (it has none), with the stale flag. */
export function workloadView(w: Workload, now: number, staleAfter: number) {
  const lastActive = w.lastUsedAt ?? w.createdAt;
  return {
    id: w.id,
    ...describeWorkload(w),
    status: w.status,
    created_at: w.createdAt,
    last_used_at: w.lastUsedAt,
    stale: w.status === 'active' && now - lastActive >= staleAfter,
    created_under: { grant: w.provenance.grantId, client_id: w.provenance.clientId, device_jkt: w.provenance.jkt, device_class: w.provenance.deviceClass },
  };
}

/**
 * The workload API (docs/workloads.md): a person creates, lists and governs their workloads with their own
 * DPoP-bound access token (token + proof, checked by the guard like any API call). JSON in and out. A workload's
 * token, or a token delegated to a tool, is refused here: only a person makes workloads (OWASP NHI10).
 */
export function registerWorkloadRoutes(app: FastifyInstance, deps: WorkloadRoutesDeps): void {
  app.register(async (api) => {
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
      } catch {
        done(new InvalidRequest('The body is not valid JSON.'), undefined);
      }
    });

    const owner = async (request: FastifyRequest, reply: FastifyReply): Promise<OwnerLogin | undefined> => {
      const dpop = request.headers['dpop'];
      const result = await deps.guard.check({
        method: request.method,
        url: `${deps.issuer}${request.url.split('?')[0] ?? ''}`,
        authorization: request.headers.authorization,
        dpop: typeof dpop === 'string' ? dpop : undefined,
      });
      if (!result.ok) {
        reply.code(result.status).headers(result.headers).send({ error: result.error, error_description: result.description });
        return undefined;
      }
      const { identity } = result;
      if (workloadIdOf(identity.sub) !== undefined || identity.claims['act'] !== undefined) {
        throw new NotAPerson('Workloads are created and governed by a person with their own login, not by a workload or a delegated token.');
      }
      if (identity.jkt === null || identity.grantId === null) throw new NotAPerson('A DPoP-bound login is required.');
      const cls = DEVICE_CLASSES.find((c) => c === identity.claims['device_class']) ?? 'unmanaged';
      return {
        userId: identity.sub,
        grantId: identity.grantId,
        clientId: identity.clientId,
        jti: identity.jti,
        device: { jkt: identity.jkt, class: cls, enrolled: identity.claims['device_enrolled'] === true },
      };
    };

    const view = (w: Workload) => workloadView(w, deps.now(), deps.staleAfter);

    api.post('/workloads', async (request, reply) => {
      const login = await owner(request, reply);
      if (!login) return reply;
      const body = parseBody(createBody, request.body);
      const workload = await deps.service.create(
        login,
        {
          name: body.name,
          purpose: body.purpose,
          resources: body.resources,
          scopes: body.scopes,
          expiresIn: body.expires_in,
          proof: body.federated
            ? { method: 'federated', issuer: body.federated.issuer, subject: body.federated.subject, claims: body.federated.claims }
            : { method: 'key', publicKey: body.public_key },
        },
        requestContext(request),
      );
      return noStore(reply).code(201).send(view(workload));
    });

    api.get('/workloads', async (request, reply) => {
      const login = await owner(request, reply);
      if (!login) return reply;
      return noStore(reply).send({ workloads: (await deps.service.list(login.userId)).map(view) });
    });

    api.get<{ Params: { id: string } }>('/workloads/:id', async (request, reply) => {
      const login = await owner(request, reply);
      if (!login) return reply;
      return noStore(reply).send(view(await deps.service.get(login.userId, request.params.id)));
    });

    const change = (name: WorkloadChange) => async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const login = await owner(request, reply);
      if (!login) return reply;
      const key = name === 'rotate-key' ? parseBody(rotateBody, request.body).public_key : undefined;
      const workload = await deps.service.change(login, request.params.id, name, requestContext(request), key);
      return noStore(reply).send(view(workload));
    };
    api.post('/workloads/:id/suspend', change('suspend'));
    api.post('/workloads/:id/resume', change('resume'));
    api.post('/workloads/:id/rotate-key', change('rotate-key'));
    api.delete('/workloads/:id', change('delete'));
  });
}
