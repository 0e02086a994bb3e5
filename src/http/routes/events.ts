import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import type { ClientRegistry } from '../../clients/client-registry.js';
import { revocationSetClaims, SET_TYPE } from '../../events/security-event.js';
import type { RevocationFeed } from '../../events/revocation-feed.js';
import { InvalidClient, InvalidRequest, UnauthorizedClient } from '../../oauth/errors.js';
import type { RevocationStatement } from '../../revocation/statement.js';
import type { Clock } from '../../shared/clock.js';
import type { KeyRing } from '../../tokens/signing-keys.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';

export interface EventStreamDeps {
  issuer: string;
  clients: ClientRegistry;
  feed: RevocationFeed;
  keys: KeyRing;
  clock: Clock;
  heartbeatMs: number;
}

/**
 * `GET /events`: a Server-Sent Events stream of signed revocation SETs for resource servers (guards). Each event's
 * SSE id is its stream position; a guard reconnecting with Last-Event-ID gets everything it missed first. A
 * heartbeat carries the server's time so a guard can tell silence from a dead link and fail closed.
 */
export function registerEventStream(app: FastifyInstance, deps: EventStreamDeps): void {
  // Streams never end on their own; a shutdown ends them, or closing the server would wait on them forever.
  const open = new Set<ServerResponse>();
  // preClose, not onClose: onClose runs only after open requests finish, which these never would.
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });
  app.get('/events', async (request, reply) => {
    const credentials = clientCredentials(request, formOf(undefined));
    if (credentials.method === 'none') throw new InvalidClient('The event stream requires client authentication.');
    const client = await deps.clients.authenticate(credentials, undefined, `${deps.issuer}/events`);
    if (!client.introspection) throw new UnauthorizedClient('Only resource servers may subscribe to events.');
    const header = request.headers['last-event-id'] ?? (request.query as Record<string, unknown>)['after'] ?? '0';
    const after = Number(header);
    if (!Number.isInteger(after) || after < 0) throw new InvalidRequest('Last-Event-ID must be a stream position.');

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let sent = after;
    const queue: RevocationStatement[] = [];
    let ready = false;
    const send = async (statement: RevocationStatement) => {
      if (statement.seq === undefined || statement.seq <= sent) return;
      sent = statement.seq;
      const set = await sign(deps, statement);
      raw.write(`id: ${statement.seq}\nevent: revocation\ndata: ${set}\n\n`);
    };
    // Subscribe before reading the backlog so nothing committed in between is missed; queue until caught up.
    const unsubscribe = deps.feed.subscribe((statement) => {
      if (ready) void send(statement);
      else queue.push(statement);
    });
    const heartbeat = setInterval(() => {
      raw.write(`event: heartbeat\ndata: {"time":${deps.clock.now()},"seq":${sent}}\n\n`);
    }, deps.heartbeatMs);
    open.add(raw);
    request.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(raw);
    });
    raw.write(`event: heartbeat\ndata: {"time":${deps.clock.now()},"seq":${after}}\n\n`);
    for (const statement of await deps.feed.backlog(after, deps.clock.now())) await send(statement);
    for (const statement of queue.splice(0)) await send(statement);
    ready = true;
    // Tells a resuming guard it has caught up, so it need not wait for the next heartbeat to trust its state.
    raw.write(`event: ready\ndata: {"seq":${sent}}\n\n`);
  });
}

async function sign(deps: EventStreamDeps, s: RevocationStatement): Promise<string> {
  const { kid, key } = deps.keys.signingKey;
  const claims = revocationSetClaims(
    {
      id: s.id,
      seq: s.seq ?? 0,
      kind: s.kind,
      value: s.value,
      issuedBefore: s.issuedBefore,
      relevantUntil: s.issuedBefore + deps.feed.maxTokenTtl,
      reason: s.reason,
      actor: s.actor,
    },
    deps.issuer,
  );
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: SET_TYPE }).sign(key);
}
