import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PushedRevocation } from '../events/security-event.js';
import type { JwsAlgorithm } from '../dpop/jws.js';
import type { KeySource } from './keys.js';
import { consoleLogger, type GuardLogger } from './logger.js';
import { RevocationList, type RevocableToken } from './revocation-list.js';
import { readSecurityEvent, type ClaimsChange } from './security-events.js';
import { SseParser, type SseMessage } from './sse.js';
import { verifySecurityEventToken } from './verify-set.js';
import type { RevocationHealth, RevocationSource } from './revocation-source.js';

/** What the stream reports to its subscribers. */
export type StreamNotice =
  | { type: 'revocation'; revocation: PushedRevocation; appliedAtMs: number }
  | { type: 'claims-change'; change: ClaimsChange }
  | { type: 'connected' }
  | { type: 'caught-up'; position: number }
  | { type: 'disconnected'; reason: string }
  | { type: 'stale'; reason: string }
  | { type: 'fresh' };

export interface RevocationStreamOptions {
  /** The issuer: SETs must name it in `iss`. */
  issuer: string;
  /** The issuer's event stream (default `${issuer}/events`). */
  eventsUrl?: string;
  /** A confidential client allowed to subscribe (Tether: `introspection: true`); the secret never reaches a log. */
  clientId: string;
  clientSecret: string;
  /** The issuer's keys, which sign the SETs. */
  keys: KeySource;
  /**
   * Fail closed after this long without hearing from the server (default 10 s). Tether sends a heartbeat every
   * 2 s, so the default tolerates four lost heartbeats; lower bounds mean revocations are trusted fresher.
   */
  staleAfterMs?: number;
  /** Drop and redial a connection silent this long (default half the stale bound, at least 3 s). */
  idleTimeoutMs?: number;
  /** Reconnection backoff bounds (default 100 ms to 5 s, doubling, with jitter). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** The stream position to start from (default 0: everything that still matters). */
  resumeFrom?: number;
  /** Algorithms a SET may be signed with (default ES256). */
  algorithms?: readonly JwsAlgorithm[];
  logger?: GuardLogger;
  /** Wall clock in seconds, for statement lifetimes. */
  now?: () => number;
  /** Monotonic milliseconds, for silence. */
  monotonicMs?: () => number;
}

interface Connection {
  request: ClientRequest;
  caughtUp: boolean;
  heartbeats: number;
  lastDataMs: number;
  /** Messages are handled one after another, in stream order, even when verifying one has to fetch a key. */
  chain: Promise<void>;
}

const WATCHDOG_MS = 250;
/** Asked on every request: one answer for all of them. */
const FRESH: RevocationHealth = Object.freeze({ fresh: true });
const SKEW_WARNING_SECONDS = 30;

/**
 * Subscribes to the authorization server's revocation events (Server-Sent Events of signed SETs, RFC 8417) and keeps
 * what they revoke in a {@link RevocationList}. It resumes after any disconnect from the last position it applied
 * (`Last-Event-ID`), so no event is lost; the server replays what was missed before streaming live.
 *
 * Freshness: the stream counts as current only once a connection has caught up (its backlog applied, known when
 * the first periodic heartbeat follows it) and stays current while it keeps hearing from the server. After
 * `staleAfterMs` of silence, or before the first catch-up, {@link health} says so and the guard fails closed:
 * without the stream it cannot know whether a token was revoked.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8417
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export class RevocationStream implements RevocationSource {
  private readonly list = new RevocationList();
  private readonly listeners = new Set<(notice: StreamNotice) => void>();
  private readonly staleAfterMs: number;
  private readonly idleTimeoutMs: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly algorithms: readonly JwsAlgorithm[];
  private readonly logger: GuardLogger;
  private readonly now: () => number;
  private readonly monotonicMs: () => number;
  private readonly eventsUrl: URL;
  private readonly authorization: string;
  private lastSeq: number;
  private syncedAtMs = -Infinity;
  private connection: Connection | undefined;
  private failures = 0;
  private retryHintMs = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** What was last logged: undefined while starting (refusing, but not yet worth an error). */
  private reportedFresh: boolean | undefined;
  private startedAtMs = 0;
  private started = false;
  private closed = false;
  private lastProblem = 'not connected yet';
  private skewWarned = false;
  private readonly firstCatchUp: Promise<void>;
  private resolveFirstCatchUp!: () => void;

  constructor(private readonly options: RevocationStreamOptions) {
    this.staleAfterMs = options.staleAfterMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? Math.max(3_000, this.staleAfterMs / 2);
    this.minDelayMs = options.reconnectMinMs ?? 100;
    this.maxDelayMs = options.reconnectMaxMs ?? 5_000;
    this.algorithms = options.algorithms ?? ['ES256'];
    this.logger = options.logger ?? consoleLogger;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.eventsUrl = new URL(options.eventsUrl ?? `${options.issuer}/events`);
    this.lastSeq = options.resumeFrom ?? 0;
    // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
    const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    this.authorization = `Basic ${Buffer.from(`${encode(options.clientId)}:${encode(options.clientSecret)}`).toString('base64')}`;
    this.firstCatchUp = new Promise((resolve) => {
      this.resolveFirstCatchUp = resolve;
    });
  }

  /** Connects (once); reconnects by itself until {@link close}. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    this.startedAtMs = this.monotonicMs();
    this.watchdog = setInterval(() => this.watch(), WATCHDOG_MS);
    this.watchdog.unref();
    this.connect();
    return this;
  }

  /** Resolves once the stream has first caught up; rejects after `timeoutMs` saying why it has not. */
  async ready(timeoutMs = 15_000): Promise<void> {
    this.start();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the revocation stream did not catch up in ${timeoutMs} ms: ${this.lastProblem}`)), timeoutMs);
    });
    try {
      await Promise.race([this.firstCatchUp, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  health(): RevocationHealth {
    const silentMs = this.monotonicMs() - this.syncedAtMs;
    if (silentMs < this.staleAfterMs) return FRESH;
    const reason =
      this.syncedAtMs === -Infinity
        ? `the revocation stream has not caught up yet (${this.lastProblem})`
        : `no word from the authorization server for ${Math.round(silentMs / 1000)} s (${this.lastProblem})`;
    return { fresh: false, reason, retryAfterSeconds: Math.max(1, Math.ceil(this.maxDelayMs / 1000)) };
  }

  isRevoked(token: RevocableToken): boolean {
    return this.list.covers(token, this.now());
  }

  /** Changes with every statement applied (see {@link RevocationSource.version}). */
  version(): number {
    return this.list.version;
  }

  /** Listens to what happens on the stream; returns the unsubscribe function. */
  subscribe(listener: (notice: StreamNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last stream position applied: where a reconnect resumes. */
  get position(): number {
    return this.lastSeq;
  }

  /** How many revocation targets are held (bounded by the statements of one token lifetime). */
  get size(): number {
    return this.list.size;
  }

  /** Drops the current connection as a network failure would; the stream redials and resumes. */
  disconnect(reason = 'disconnected on request'): void {
    const connection = this.connection;
    if (connection) this.dropped(connection, reason, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = undefined;
    connection?.request.destroy();
    await connection?.chain;
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.eventsUrl;
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      agent: false,
      headers: {
        accept: 'text/event-stream',
        'cache-control': 'no-cache',
        authorization: this.authorization,
        'last-event-id': String(this.lastSeq),
      },
    });
    const connection: Connection = { request, caughtUp: false, heartbeats: 0, lastDataMs: this.monotonicMs(), chain: Promise.resolve() };
    this.connection = connection;
    request.on('response', (response) => this.opened(connection, response));
    request.on('error', (error) => this.dropped(connection, `cannot reach ${url.origin}: ${error.message}`));
    request.end();
  }

  private opened(connection: Connection, response: IncomingMessage): void {
    const type = response.headers['content-type'] ?? '';
    if (response.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 2_000) body += chunk;
      });
      response.on('end', () => {
        // The error code only: a body is not ours to copy into logs wholesale.
        const code = /"error"\s*:\s*"([^"]{1,64})"/.exec(body)?.[1];
        this.dropped(connection, `the event stream answered HTTP ${response.statusCode}${code ? ` ${code}` : ''}`);
      });
      response.on('error', () => this.dropped(connection, `the event stream answered HTTP ${response.statusCode}`));
      return;
    }
    this.logger.info({ url: this.eventsUrl.href, resumeFrom: this.lastSeq }, 'guard: revocation stream connected');
    this.emit({ type: 'connected' });
    response.setEncoding('utf8');
    const parser = new SseParser(
      (message) => {
        connection.chain = connection.chain
          .then(() => this.handle(connection, message))
          .catch((error: unknown) => this.dropped(connection, `event handling failed: ${(error as Error).message}`, true));
      },
      (ms) => {
        this.retryHintMs = ms;
      },
    );
    response.on('data', (chunk: string) => {
      connection.lastDataMs = this.monotonicMs();
      try {
        parser.push(chunk);
      } catch (error) {
        this.dropped(connection, (error as Error).message, true);
      }
    });
    response.on('end', () => this.dropped(connection, 'the server ended the event stream'));
    response.on('close', () => this.dropped(connection, 'the event stream closed'));
    response.on('error', (error) => this.dropped(connection, error.message));
  }

  private async handle(connection: Connection, message: SseMessage): Promise<void> {
    if (connection !== this.connection) return;
    switch (message.event) {
      case 'heartbeat':
        this.heartbeat(connection, message.data);
        break;
      case 'revocation':
        await this.securityEvent(connection, message);
        break;
      case 'ready':
        // A server that marks the end of its backlog lets the guard catch up without waiting for a heartbeat.
        this.caughtUp(connection);
        break;
      default:
        break;
    }
    if (connection.caughtUp && connection === this.connection) this.syncedAtMs = this.monotonicMs();
  }

  private heartbeat(connection: Connection, data: string): void {
    connection.heartbeats++;
    let parsed: { time?: unknown } = {};
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      // A heartbeat is a sign of life even if its body is not understood.
    }
    if (typeof parsed.time === 'number' && !this.skewWarned && Math.abs(parsed.time - this.now()) > SKEW_WARNING_SECONDS) {
      this.skewWarned = true;
      this.logger.warn(
        { skewSeconds: Math.round(this.now() - parsed.time) },
        'guard: this clock and the authorization server clock differ by more than 30 s; token expiry checks are off by that much',
      );
    }
    // The server sends one heartbeat on connect, then replays the backlog, then one every interval. Messages are
    // handled in order, so by the second heartbeat everything before it, the whole backlog, has been applied.
    if (connection.heartbeats >= 2) this.caughtUp(connection);
  }

  private caughtUp(connection: Connection): void {
    if (connection.caughtUp) return;
    connection.caughtUp = true;
    this.failures = 0;
    this.lastProblem = 'connected';
    this.syncedAtMs = this.monotonicMs();
    this.emit({ type: 'caught-up', position: this.lastSeq });
    this.resolveFirstCatchUp();
    this.watch();
  }

  private async securityEvent(connection: Connection, message: SseMessage): Promise<void> {
    const seq = Number(message.lastEventId);
    let claims: Record<string, unknown>;
    try {
      claims = await verifySecurityEventToken(message.data, { issuer: this.options.issuer, keys: this.options.keys, algorithms: this.algorithms });
    } catch (error) {
      // Skipping it would lose a revocation; redial and have it sent again. If it keeps failing, the stream goes
      // stale and the guard fails closed, which is the right outcome for events nobody can verify.
      this.logger.error({ seq, err: (error as Error).message }, 'guard: a revocation event failed verification; reconnecting');
      this.dropped(connection, `an event failed verification: ${(error as Error).message}`, true);
      return;
    }
    if (connection !== this.connection) return;
    const event = readSecurityEvent(claims);
    if (event.type === 'revocation') {
      this.list.apply(event.revocation);
      this.emit({ type: 'revocation', revocation: event.revocation, appliedAtMs: this.monotonicMs() });
    } else if (event.type === 'claims-change') {
      this.emit({ type: 'claims-change', change: event.change });
    } else {
      this.logger.debug({ seq, eventTypes: event.eventTypes }, 'guard: ignoring a security event of a type it does not act on');
    }
    const position = event.type === 'revocation' ? event.revocation.seq : Number.isInteger(seq) ? seq : this.lastSeq;
    this.lastSeq = Math.max(this.lastSeq, position);
  }

  private dropped(connection: Connection, reason: string, destroy = false): void {
    if (connection !== this.connection) return;
    this.connection = undefined;
    if (destroy) connection.request.destroy();
    if (this.closed) return;
    this.lastProblem = reason;
    this.logger.warn({ reason, resumeFrom: this.lastSeq }, 'guard: revocation stream lost; reconnecting');
    this.emit({ type: 'disconnected', reason });
    const backoff = Math.min(this.maxDelayMs, Math.max(this.minDelayMs, this.retryHintMs) * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 16);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), backoff * (0.5 + Math.random() / 2));
    this.reconnectTimer.unref();
  }

  private watch(): void {
    const connection = this.connection;
    if (connection && this.monotonicMs() - connection.lastDataMs > this.idleTimeoutMs) {
      // A half-open TCP connection can look alive forever; no heartbeat in this long means it is not.
      this.dropped(connection, `no heartbeat for ${Math.round(this.idleTimeoutMs / 1000)} s`, true);
    }
    const health = this.health();
    const starting = this.reportedFresh === undefined && this.monotonicMs() - this.startedAtMs < this.staleAfterMs;
    if (health.fresh ? this.reportedFresh !== true : this.reportedFresh !== false && !starting) {
      this.reportedFresh = health.fresh;
      if (health.fresh) {
        this.logger.info({ position: this.lastSeq }, 'guard: revocation stream current; accepting requests');
        this.emit({ type: 'fresh' });
      } else {
        this.logger.error(
          { reason: health.reason },
          'guard: FAILING CLOSED: revocation state unknown, every request is refused with 503 until the stream is back',
        );
        this.emit({ type: 'stale', reason: health.reason });
      }
    }
  }

  private emit(notice: StreamNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'guard: a revocation stream listener threw');
      }
    }
  }
}
