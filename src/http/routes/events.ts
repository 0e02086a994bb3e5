import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ClientRegistry } from '../../clients/client-registry.js';
import type { RevocationFeed } from '../../events/revocation-feed.js';
import type { RevocationSetSigner } from '../../events/revocation-set-signer.js';
import type { StreamSlots } from '../../events/stream-slots.js';
import { InvalidClient, InvalidRequest, OAuthError, UnauthorizedClient } from '../../oauth/errors.js';
import type { RevocationStatement } from '../../revocation/statement.js';
import type { Clock } from '../../shared/clock.js';
import { clientCredentials } from '../client-auth.js';
import { formOf } from '../form-body.js';

export interface EventStreamDeps {
  issuer: string;
  clients: ClientRegistry;
  feed: RevocationFeed;
  signer: RevocationSetSigner;
  slots: StreamSlots;
  clock: Clock;
  heartbeatMs: number;
}

/** How long a subscriber over its stream cap is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 30;

/** A subscriber already holds its share of streams: 429 with Retry-After (RFC 6585 §4), the OAuth JSON body. */
class TooManyStreams extends OAuthError {
  readonly code = 'slow_down';
  override readonly status = 429;
  override readonly headers = { 'retry-after': String(RETRY_AFTER_SECONDS) };
}

/**
 * `GET /events`: a Server-Sent Events stream of signed revocation SETs for resource servers (guards). Each event's
 * SSE id is its stream position; a guard reconnecting with Last-Event-ID gets everything it missed first. A
 * heartbeat carries the server's time so a guard can tell silence from a dead link and fail closed. Each client
 * holds at most `slots.maxPerSubscriber` streams; every SET is signed once and shared by all streams.
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
    const release = deps.slots.acquire(client.id);
    if (!release) {
      request.log.warn({ client: client.id, open: deps.slots.held(client.id) }, 'event stream refused: the client holds its maximum of streams');
      throw new TooManyStreams(`This client already holds ${deps.slots.maxPerSubscriber} event streams; close one or retry later.`);
    }

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
      const set = await deps.signer.sign(statement);
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
      release();
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
