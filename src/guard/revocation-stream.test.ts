import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { issuerKey, ISSUER, type IssuerKey } from '../../test/guard/fixtures.js';
import { revocationSetClaims, SET_TYPE, type RevocationTarget } from '../events/security-event.js';
import { StaticJwks } from './keys.js';
import type { GuardLogger } from './logger.js';
import { RevocationStream, type StreamNotice } from './revocation-stream.js';
import { TOKEN_CLAIMS_CHANGE } from './security-events.js';

const SECRET = 'a secret with spaces & symbols';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

/** A stand-in for Tether's GET /events: heartbeats every 50 ms, backlog after Last-Event-ID, then live events. */
class FakeEventServer {
  readonly events: { seq: number; set: string }[] = [];
  readonly resumes: string[] = [];
  /** How many connection attempts were turned away (wrong credentials or a non-200 status). */
  refusals = 0;
  private readonly streams = new Set<ServerResponse>();
  private server: Server | undefined;
  silent = false;
  readyMarker = false;
  status = 200;
  url = '';

  constructor(private readonly key: IssuerKey) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const expected = `Basic ${Buffer.from(`api-gateway:${encodeURIComponent(SECRET).replace(/%20/g, '+')}`).toString('base64')}`;
      if (request.headers.authorization !== expected || this.status !== 200) {
        this.refusals++;
        response.writeHead(this.status === 200 ? 401 : this.status, { 'content-type': 'application/json' });
        response.end('{"error":"invalid_client"}');
        return;
      }
      const after = Number(request.headers['last-event-id'] ?? 0);
      this.resumes.push(String(request.headers['last-event-id']));
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(`event: heartbeat\ndata: {"time":${Math.floor(Date.now() / 1000)},"seq":${after}}\n\n`);
      for (const e of this.events) if (e.seq > after) response.write(`id: ${e.seq}\nevent: revocation\ndata: ${e.set}\n\n`);
      if (this.readyMarker) response.write('event: ready\ndata: {}\n\n');
      this.streams.add(response);
      const beat = setInterval(() => {
        if (!this.silent) response.write(`event: heartbeat\ndata: {"time":${Math.floor(Date.now() / 1000)},"seq":0}\n\n`);
      }, 50);
      response.on('close', () => {
        clearInterval(beat);
        this.streams.delete(response);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/events`;
  }

  async revoke(kind: RevocationTarget, value: string | null, opts: { live?: boolean; forged?: boolean; claims?: Record<string, unknown> } = {}) {
    const seq = this.events.length + 1;
    const now = Math.floor(Date.now() / 1000);
    const claims = opts.claims ?? revocationSetClaims({ id: `r${seq}`, seq, kind, value, issuedBefore: now, issuedBeforeMs: now * 1000 + 999, relevantUntil: now + 600, reason: 'test', actor: 'admin:test' }, ISSUER, now);
    let set = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: SET_TYPE }).sign(this.key.privateKey);
    if (opts.forged) set = `${set.slice(0, -6)}AAAAAA`;
    this.events.push({ seq, set });
    if (opts.live !== false) for (const s of this.streams) s.write(`id: ${seq}\nevent: revocation\ndata: ${set}\n\n`);
    return seq;
  }

  dropAll(): void {
    for (const s of this.streams) s.destroy();
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

function recordingLogger(): GuardLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A monotonic clock that runs with real time but can be moved ahead, so a window of silence passes at once. */
function leapingClock() {
  let ahead = 0;
  return { monotonicMs: () => performance.now() + ahead, leap: (ms: number) => void (ahead += ms) };
}

const token = (extra: Record<string, unknown> = {}) => ({
  grantId: 'g1',
  sub: 'alice',
  jkt: 'k1',
  clientId: 'tether-cli',
  iat: Math.floor(Date.now() / 1000) - 5,
  ...extra,
});

describe('RevocationStream', () => {
  let key: IssuerKey;
  let server: FakeEventServer;
  const streams: RevocationStream[] = [];

  const open = (extra: Partial<ConstructorParameters<typeof RevocationStream>[0]> = {}) => {
    const logger = recordingLogger();
    const stream = new RevocationStream({
      issuer: ISSUER,
      eventsUrl: server.url,
      clientId: 'api-gateway',
      clientSecret: SECRET,
      keys: new StaticJwks(key.jwks),
      staleAfterMs: 600,
      idleTimeoutMs: 400,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
      logger,
      ...extra,
    });
    streams.push(stream);
    return { stream, logger };
  };

  before(async () => {
    key = await issuerKey();
    server = new FakeEventServer(key);
    await server.start();
  });
  after(async () => {
    for (const s of streams) await s.close();
    await server.stop();
  });

  test('refuses to vouch for anything until it has caught up, then applies backlog and live events', async () => {
    await server.revoke('grant', 'g1', { live: false });
    const { stream } = open();
    assert.equal(stream.health().fresh, false);
    stream.start();
    await stream.ready(3_000);
    assert.equal(stream.health().fresh, true);
    assert.equal(stream.isRevoked(token()), true, 'the backlog was applied before it counted as caught up');
    assert.equal(stream.isRevoked(token({ grantId: 'g2' })), false);
    const applied = new Promise<StreamNotice>((resolve) => stream.subscribe((n) => n.type === 'revocation' && resolve(n)));
    await server.revoke('user', 'bob');
    await applied;
    assert.equal(stream.isRevoked(token({ grantId: 'g9', sub: 'bob' })), true);
    assert.equal(stream.position, server.events.length);
  });

  test('resumes after a disconnect from the last position, so a revocation sent meanwhile is not lost', async () => {
    const { stream } = open();
    await stream.ready(3_000);
    const position = stream.position;
    // Cut every stream and keep the guard out while revoking: the event then exists only in the backlog.
    server.status = 503;
    server.dropAll();
    await server.revoke('jkt', 'k-lost', { live: false });
    // Wait for the guard to redial and be turned away, rather than for a while: it has then tried and missed the event.
    const refused = server.refusals;
    await until(() => server.refusals > refused);
    assert.equal(stream.isRevoked(token({ grantId: 'gx', jkt: 'k-lost' })), false);
    server.status = 200;
    await until(() => stream.isRevoked(token({ grantId: 'gx', jkt: 'k-lost' })));
    assert.equal(server.resumes.at(-1), String(position));
  });

  test('goes stale after the bound of silence, logs that it fails closed, and recovers', async () => {
    const clock = leapingClock();
    const { stream, logger } = open({ idleTimeoutMs: 10_000, monotonicMs: clock.monotonicMs });
    await stream.ready(3_000);
    server.silent = true;
    try {
      clock.leap(600);
      await until(() => !stream.health().fresh, 2_000);
      const health = stream.health();
      assert.equal(health.fresh, false);
      assert.match(health.fresh ? '' : health.reason, /no word from the authorization server/);
      await until(() => logger.lines.some((l) => l.startsWith('error guard: FAILING CLOSED')), 1_000);
    } finally {
      server.silent = false;
    }
    await until(() => stream.health().fresh, 2_000);
    await until(() => logger.lines.some((l) => l.includes('revocation stream current')), 1_000);
  });

  test('a silent connection is dropped and redialled', async () => {
    const clock = leapingClock();
    const { stream, logger } = open({ idleTimeoutMs: 200, staleAfterMs: 5_000, monotonicMs: clock.monotonicMs });
    await stream.ready(3_000);
    server.silent = true;
    try {
      clock.leap(200);
      await until(() => logger.lines.some((l) => l.includes('no heartbeat')), 2_000);
    } finally {
      server.silent = false;
    }
  });

  test('an event that fails verification is not applied and is fetched again by redialling', async () => {
    const { stream, logger } = open();
    await stream.ready(3_000);
    const before = stream.position;
    const seq = await server.revoke('client', 'evil', { forged: true });
    await until(() => logger.lines.some((l) => l.includes('failed verification')));
    assert.equal(stream.isRevoked(token({ grantId: 'gy', clientId: 'evil' })), false);
    assert.equal(stream.position, before);
    // The server fixes its event (say, after a key rotation): the redial picks it up from the same position.
    const fixed = server.events.find((e) => e.seq === seq);
    assert.ok(fixed);
    const claims = revocationSetClaims(
      { id: 'fixed', seq, kind: 'client', value: 'evil', issuedBefore: Math.floor(Date.now() / 1000), issuedBeforeMs: Date.now(), relevantUntil: Math.floor(Date.now() / 1000) + 600, reason: 'x', actor: 'admin:x' },
      ISSUER,
      Math.floor(Date.now() / 1000),
    );
    fixed.set = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: SET_TYPE }).sign(key.privateKey);
    await until(() => stream.isRevoked(token({ grantId: 'gy', clientId: 'evil' })));
  });

  test('token-claims-change events are parsed and reported (shape only)', async () => {
    const { stream } = open();
    await stream.ready(3_000);
    const seen = new Promise<StreamNotice>((resolve) => stream.subscribe((n) => n.type === 'claims-change' && resolve(n)));
    const seq = server.events.length + 1;
    await server.revoke('user', 'alice', {
      claims: {
        iss: ISSUER,
        jti: 'c1',
        iat: Math.floor(Date.now() / 1000),
        events: { [TOKEN_CLAIMS_CHANGE]: { subject: { format: 'opaque', id: 'alice', tether_kind: 'user' }, event_timestamp: 1, claims: { groups: ['ops'] } } },
        tether: { seq },
      },
    });
    const notice = await seen;
    assert.deepEqual(notice, { type: 'claims-change', change: { seq, kind: 'user', value: 'alice', eventTimestamp: 1, claims: { groups: ['ops'] } } });
    await until(() => stream.position === seq);
  });

  test('a server that marks the end of its backlog is trusted at once, without waiting for a heartbeat', async () => {
    server.silent = true;
    server.readyMarker = true;
    try {
      await server.revoke('grant', 'g-ready', { live: false });
      const { stream } = open({ idleTimeoutMs: 10_000 });
      await stream.ready(1_000);
      assert.equal(stream.isRevoked(token({ grantId: 'g-ready' })), true);
    } finally {
      server.silent = false;
      server.readyMarker = false;
    }
  });

  test('wrong credentials: never fresh, and the reason says what the server answered', async () => {
    const { stream } = open({ clientSecret: 'wrong' });
    await assert.rejects(stream.ready(500), /HTTP 401 invalid_client/);
    const health = stream.health();
    assert.equal(health.fresh, false);
  });
});
