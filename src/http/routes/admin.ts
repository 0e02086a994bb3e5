import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseBody } from '../json-body.js';
import type { AdminKeys } from '../../admin/admin-keys.js';
import type { AuditEventInput } from '../../audit/event.js';
import type { DeviceStore } from '../../devices/device-store.js';
import type { DeviceRecord } from '../../policy/device-trust.js';
import { DEVICE_CLASSES, type DeviceClass } from '../../policy/types.js';
import type { Clock } from '../../shared/clock.js';
import type { Revoker } from '../../revocation/revoker.js';
import { canonicalUserId } from '../../users/canonical-id.js';
import type { RevocationStore } from '../../revocation/statement.js';
import { InvalidRequest, OAuthError } from '../../oauth/errors.js';
import { noStore } from '../oauth-reply.js';
import { registerKeyAdminRoutes, type KeyAdminDeps } from './admin-keys.js';

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

const deviceApprovalBody = z
  .object({
    class: z.enum(DEVICE_CLASSES as readonly [DeviceClass, ...DeviceClass[]]).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();

const deviceRevocationBody = z.object({ reason: z.string().max(500).optional() }).strict();

/** A DPoP key thumbprint: base64url SHA-256 (RFC 7638). */
const JKT = /^[A-Za-z0-9_-]{43}$/;

export interface AdminDeps {
  keys: AdminKeys;
  revoker: Revoker;
  revocations: RevocationStore;
  devices: DeviceStore;
  clock: Clock;
  /** Offboarding (docs/workloads.md): suspends a person's workloads and revokes their tokens; returns how many. */
  offboard?: (userId: string, actor: string, reason: string) => Promise<number>;
  /** Every workload, as the workload API describes them (docs/workloads.md). */
  workloads?: () => Promise<unknown[]>;
  /** Signing key rotation (`/admin/keys`). */
  signingKeys?: KeyAdminDeps;
}


/** What the admin API says about a device. */
function deviceJson(d: DeviceRecord) {
  return {
    jkt: d.jkt,
    name: d.name,
    requested_class: d.requestedClass,
    status: d.status,
    class: d.class,
    trust: d.trust,
    decided_by: d.decidedBy,
    enrolled_at: d.enrolledAt,
    decided_at: d.decidedAt,
  };
}

/**
 * The admin API: revoke by grant, user, device key thumbprint, client, or all device-flow grants at once (the
 * incident kill switch), and list past revocations. JSON in and out, authenticated by an admin key.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.register(async (admin) => {
    admin.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, body === '' ? undefined : JSON.parse(body as string));
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
    if (deps.signingKeys) registerKeyAdminRoutes(admin, deps.signingKeys);

    admin.post('/admin/revocations', async (request, reply) => {
      const parsed = revocationBody.safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
      }
      const actor = (request as FastifyRequest & { adminActor?: string }).adminActor ?? 'admin';
      const { statement, grants } = await deps.revoker.revoke({
        kind: parsed.data.kind,
        // Users are named by their canonical id (what grants and `sub` carry): ALICE revokes alice's grants.
        value: parsed.data.value === undefined ? null : parsed.data.kind === 'user' ? canonicalUserId(parsed.data.value) : parsed.data.value,
        actor,
        reason: parsed.data.reason,
        via: 'admin_api',
      });
      // Revoking all of a person's grants offboards them: their workloads stop too (OWASP NHI1).
      const workloads =
        parsed.data.kind === 'user' && deps.offboard ? await deps.offboard(statement.value ?? '', actor, parsed.data.reason) : undefined;
      return noStore(reply)
        .code(201)
        .send({ revocation: statement, grants_revoked: grants.length, grants, ...(workloads !== undefined ? { workloads_suspended: workloads } : {}) });
    });

    admin.get('/admin/revocations', async (request, reply) => {
      const since = Number((request.query as Record<string, unknown>)['since'] ?? 0);
      if (!Number.isFinite(since) || since < 0) throw new InvalidRequest('since must be a time in seconds.');
      return noStore(reply).send({ revocations: await deps.revocations.listRevocations(since) });
    });

    admin.get('/admin/workloads', async (_request, reply) => {
      if (!deps.workloads) throw new InvalidRequest('Workloads are not available on this server.');
      return noStore(reply).send({ workloads: await deps.workloads() });
    });

    admin.get('/admin/devices', async (_request, reply) => {
      return noStore(reply).send({ devices: (await deps.devices.list()).map(deviceJson) });
    });

    /** Trusts an enrolled key as `class` (default: what it asked for); policy sees that class from the next request. */
    admin.post('/admin/devices/:jkt/approve', async (request, reply) => {
      const jkt = deviceParam(request);
      const body = parseBody(deviceApprovalBody, request.body);
      const actor = actorOf(request);
      const now = deps.clock.now();
      const record = await deps.devices.approve(
        jkt,
        { by: actor, now, ...(body.class ? { class: body.class } : {}) },
        (r) => [deviceAction('device.approve', r, actor, now, body.reason)],
      );
      if (!record) return noDevice(reply);
      request.log.info({ jkt, class: record.class, actor }, 'device approved by an administrator');
      return noStore(reply).send({ device: deviceJson(record) });
    });

    /**
     * Takes trust away: the key is unmanaged again from the next step of policy (a refresh asks the registry), and
     * a revocation statement by the key goes to every guard over /events, covering tokens bound to it (`cnf.jkt`)
     * or vouched for by it (`device_jkt`) issued until now: their next API request is refused, and the client's
     * refresh gets tokens only as far as policy allows an unmanaged device.
     */
    admin.post('/admin/devices/:jkt/revoke', async (request, reply) => {
      const jkt = deviceParam(request);
      const body = parseBody(deviceRevocationBody, request.body);
      const actor = actorOf(request);
      const now = deps.clock.now();
      const record = await deps.devices.revoke(jkt, { by: actor, now }, (r) => [deviceAction('device.revoke', r, actor, now, body.reason)]);
      if (!record) return noDevice(reply);
      await deps.revoker.revoke({ kind: 'jkt', value: jkt, actor, reason: body.reason ?? 'device trust revoked', via: 'admin_api', tokensOnly: true });
      request.log.info({ jkt, actor }, 'device trust revoked by an administrator');
      return noStore(reply).send({ device: deviceJson(record) });
    });
  });
}

function actorOf(request: FastifyRequest): string {
  return (request as FastifyRequest & { adminActor?: string }).adminActor ?? 'admin';
}

function deviceParam(request: FastifyRequest): string {
  const jkt = (request.params as { jkt?: string }).jkt ?? '';
  if (!JKT.test(jkt)) throw new InvalidRequest('The device is named by its key thumbprint (43 base64url characters).');
  return jkt;
}

function noDevice(reply: FastifyReply) {
  return noStore(reply).code(404).send({ error: 'not_found', error_description: 'No device with this key has enrolled.' });
}

function deviceAction(action: string, d: DeviceRecord, actor: string, now: number, reason: string | undefined): AuditEventInput {
  return {
    type: 'admin.action',
    at: now,
    jkt: d.jkt,
    data: { action, actor, name: d.name, class: d.class, requested_class: d.requestedClass, status: d.status, ...(reason ? { reason } : {}) },
  };
}

