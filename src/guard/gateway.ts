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
  /** The origin clients use to reach the gateway, for the proofs' `htu` (default: from the Host header). */
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
  const checkOptions = { publicUrl: options.publicUrl, scopes: options.scopes };

  const forward = (request: IncomingMessage, response: ServerResponse, identity: Readonly<VerifiedIdentity>) => {
    const outgoing = send({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: basePath + (request.url ?? '/'),
      headers: upstreamHeaders(request, identity, options.publicUrl),
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

/** What the upstream receives: the request's end-to-end headers, minus credentials, plus the verified identity. */
export function upstreamHeaders(request: IncomingMessage, identity: Readonly<VerifiedIdentity>, publicUrl?: string): OutgoingHttpHeaders {
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
  out['x-forwarded-proto'] = publicUrl ? new URL(publicUrl).protocol.replace(':', '') : 'http';
  if (incoming.host) out['x-forwarded-host'] = incoming.host;
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
