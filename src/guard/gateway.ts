import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { VerifiedIdentity } from './access-token.js';
import { guardRequestOf, writeRefusal } from './adapters/node-http.js';
import type { Guard } from './guard.js';
import { consoleLogger, type GuardLogger } from './logger.js';

export interface GatewayOptions {
  guard: Guard;
  /** The API behind the gateway, e.g. `http://127.0.0.1:3000` (a path prefix is kept). */
  upstream: string;
  /**
   * The origin clients use to reach the gateway, for the proofs' `htu` and `X-Forwarded-Host`. Default: the
   * address the gateway listens on ({@link listeningOrigin}). Never the request's Host header, which the client
   * writes.
   */
  publicUrl?: string;
  /** Scopes every request needs (in addition to the guard's). */
  scopes?: readonly string[];
  logger?: GuardLogger;
  /** Give up on an upstream that has not answered in this long (default 30 s). */
  upstreamTimeoutMs?: number;
}

/** The headers the upstream receives about the caller; any a client sends itself are removed first. */
export const IDENTITY_HEADERS = {
  sub: 'x-tether-sub',
  client: 'x-tether-client',
  scope: 'x-tether-scope',
  grant: 'x-tether-grant',
  jkt: 'x-tether-jkt',
} as const;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the credentials the upstream must never see. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'dpop',
  // What a client says about its own route is not evidence: the gateway writes these itself, or nobody does.
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
]);
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * A reverse proxy that puts the guard in front of an HTTP API that cannot change. Each request is checked
 * (token, proof, revocation, scope, policy); an accepted one goes upstream without its Authorization and DPoP
 * headers, with the verified identity in `X-Tether-*` headers instead, so the upstream never holds a credential it
 * could leak or replay. A refused one never reaches the upstream. The upstream must be reachable only through the
 * gateway, or anyone could send it those headers.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
export function createGateway(options: GatewayOptions): Server & { closeUpstream(): void } {
  const logger = options.logger ?? consoleLogger;
  const upstream = new URL(options.upstream);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const tls = upstream.protocol === 'https:';
  const agent = tls ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = tls ? httpsRequest : httpRequest;
  const timeoutMs = options.upstreamTimeoutMs ?? 30_000;
  let publicUrl = options.publicUrl?.replace(/\/+$/, '');
  const origin = () => (publicUrl ??= listeningOrigin(server));

  const forward = (request: IncomingMessage, response: ServerResponse, identity: Readonly<VerifiedIdentity>) => {
    const outgoing = send({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: request.method,
      // The very path the proof was checked against: safe (see unsafePathReason), so nothing rewrites it.
      path: basePath + (request.url ?? '/'),
      headers: upstreamHeaders(request, identity, origin()),
      agent,
      timeout: timeoutMs,
    });
    outgoing.on('response', (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, returnedHeaders(answer.rawHeaders));
      answer.pipe(response);
      answer.on('error', () => response.destroy());
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('upstream timeout')));
    outgoing.on('error', (error) => {
      logger.error({ upstream: upstream.origin, err: error.message }, 'gateway: upstream request failed');
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const body = JSON.stringify({ error: 'bad_gateway', error_description: 'The API behind this gateway did not answer.' });
      response.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
    // A client that goes away takes its upstream request with it.
    response.on('close', () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    request.pipe(outgoing);
  };

  const server = createServer((request, response) => {
    const refusedPath = unsafePathReason(request.url ?? '');
    if (refusedPath) {
      logger.debug({ method: request.method, reason: refusedPath }, 'gateway: refused an unsafe path');
      request.resume();
      const body = JSON.stringify({ error: 'invalid_request', error_description: `The request path is refused: ${refusedPath}.` });
      response.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
    const checkOptions = { publicUrl: origin(), scopes: options.scopes };
    options.guard
      .check(guardRequestOf(request, checkOptions), checkOptions)
      .then((result) => {
        if (!result.ok) {
          logger.debug({ code: result.code, method: request.method, path: (request.url ?? '').split('?')[0] }, 'gateway: refused');
          request.resume();
          writeRefusal(response, result);
          return;
        }
        forward(request, response, result.identity);
      })
      .catch((error: unknown) => {
        logger.error({ err: (error as Error).message }, 'gateway: request failed');
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        response.end('{"error":"server_error"}');
      });
  });
  return Object.assign(server, { closeUpstream: () => agent.destroy() });
}

/** `http://HOST:PORT` of where `server` listens: the gateway's public URL unless one is configured. */
export function listeningOrigin(server: Server): string {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the gateway is not listening on a TCP port');
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Why a request-target is refused, or undefined when it is a plain origin-form path that every server reads the
 * same way. The guard checks the proof's `htu` against the path as sent and the upstream receives it as sent, so
 * a path that some server would rewrite (dot-segments, encoded or backslash separators, an empty first segment
 * read as a host) could be authorized as one resource and served as another. Such paths are refused, not
 * normalized: no client of an API needs them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2.1
 */
export function unsafePathReason(target: string): string | undefined {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (!path.startsWith('/')) return 'only origin-form paths (starting with /) are forwarded';
  if (path.startsWith('//')) return 'a path starting with // reads as a host';
  if (path.includes('\\') || path.includes('#')) return 'backslashes and fragments are not allowed in a path';
  if (/%(2f|5c|00)/i.test(path)) return 'encoded separators (%2F, %5C) and NUL are not allowed';
  for (const segment of path.split('/')) {
    // `..;x` is `..` to servers that drop path parameters (Tomcat, Spring); %2e is a dot once decoded.
    const name = (segment.split(';')[0] ?? '').replace(/%2e/gi, '.');
    if (name === '.' || name === '..') return 'dot-segments (. and ..) are not allowed';
  }
  return undefined;
}

/** What the upstream receives: the request's end-to-end headers, minus credentials, plus the verified identity. */
export function upstreamHeaders(request: IncomingMessage, identity: Readonly<VerifiedIdentity>, publicUrl: string): OutgoingHttpHeaders {
  const incoming: IncomingHttpHeaders = request.headers;
  // Connection may name more hop-by-hop headers (RFC 9110 §7.6.1).
  const named = new Set(
    String(incoming.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || NOT_FORWARDED.has(name) || named.has(name) || name.startsWith('x-tether-')) continue;
    out[name] = value;
  }
  const peer = request.socket.remoteAddress ?? '';
  const forwardedFor = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = forwardedFor ? `${String(forwardedFor)}, ${peer}` : peer;
  // From the configured public URL, never the client's Host header, so the upstream cannot be told another origin.
  const origin = new URL(publicUrl);
  out['x-forwarded-proto'] = origin.protocol.replace(':', '');
  out['x-forwarded-host'] = origin.host;
  out[IDENTITY_HEADERS.sub] = headerSafe(identity.sub);
  out[IDENTITY_HEADERS.client] = headerSafe(identity.clientId);
  out[IDENTITY_HEADERS.scope] = headerSafe(identity.scopes.join(' '));
  if (identity.grantId !== null) out[IDENTITY_HEADERS.grant] = headerSafe(identity.grantId);
  if (identity.jkt !== null) out[IDENTITY_HEADERS.jkt] = identity.jkt;
  return out;
}

function returnedHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!NOT_RETURNED.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** Identity values come from a signed token but may still hold characters a header cannot: percent-encode those. */
function headerSafe(value: string): string {
  return /^[\x20-\x7E]*$/.test(value) ? value : encodeURIComponent(value);
}
