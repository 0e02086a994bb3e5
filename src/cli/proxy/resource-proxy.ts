import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { isClientError } from '../auth/errors.js';
import type { AuthorizedSender } from './authorized-sender.js';
import { isWithinResource, resolveUnderResource } from './resource-url.js';

/** Request bodies are buffered (a nonce or refresh retry must resend them); API calls are small. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** RFC 9110 §7.6.1 hop-by-hop fields, plus the credentials only we may set. */
const DROP_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length', 'authorization', 'dpop',
]);
/** fetch has already decoded the body, so its encoding and length no longer describe what we send on. */
const DROP_RESPONSE = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'content-encoding', 'content-length',
]);

export interface ResourceProxy {
  /** A base URL that stands for the resource: `${apiUrl}/x` is `${resource}/x`, with credentials added. */
  apiUrl: string;
  /** An HTTP forward-proxy URL (with its per-run credentials) for clients that honour HTTP_PROXY. */
  proxyUrl: string;
  close(): Promise<void>;
}

export interface ResourceProxyOptions {
  resource: string;
  sender: AuthorizedSender;
  fetch: typeof fetch;
  /** Told about failures worth one line on stderr. */
  onProblem?: (message: string) => void;
}

/**
 * A loopback proxy for `tether exec`: the command talks plain HTTP to 127.0.0.1, and the proxy adds a current
 * access token and a fresh DPoP proof to each request bound for the resource, so the command never holds either.
 * A random per-run capability (in the base URL's first path segment, or as the forward proxy's password) keeps
 * other local users from riding the session through the open port. Requests elsewhere get no credentials.
 */
export async function startResourceProxy(options: ResourceProxyOptions): Promise<ResourceProxy> {
  const capability = randomBytes(24).toString('base64url');
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const message = isClientError(error) ? error.message : (error as Error).message;
      options.onProblem?.(message);
      if (!response.headersSent) {
        const status = isClientError(error, 'session_ended') || isClientError(error, 'not_signed_in') ? 401 : 502;
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        response.end(JSON.stringify({ error: status === 401 ? 'tether_session_ended' : 'tether_proxy_error', error_description: message }));
      } else response.destroy();
    });
  });
  // HTTPS through a forward proxy would need us to break TLS; we do not, so CONNECT is refused.
  server.on('connect', (_request, socket) => socket.end('HTTP/1.1 501 Not Implemented\r\n\r\n'));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = request.url ?? '/';
    let target: string;
    let viaBase: boolean;
    if (raw.startsWith('/')) {
      // Base-URL mode: /<capability>/rest → resource/rest.
      const match = /^\/([^/?]*)(.*)$/.exec(raw);
      if (!match || !sameSecret(match[1] ?? '', capability)) return refuse(response, 403, 'unknown path: use the URL in TETHER_API_URL');
      target = resolveUnderResource(options.resource, match[2] ?? '');
      viaBase = true;
    } else {
      if (!sameSecret(proxyPassword(request.headers['proxy-authorization']), capability)) {
        response.writeHead(407, { 'proxy-authenticate': 'Basic realm="tether"' }).end();
        return;
      }
      target = raw;
      viaBase = false;
    }
    const body = await readBody(request);
    if (body === undefined) return refuse(response, 413, 'request body too large');
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || DROP_REQUEST.has(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const outgoing = { method: request.method ?? 'GET', url: target, headers, body };
    let upstream: Response;
    if (isWithinResource(target, options.resource)) upstream = await options.sender.send(outgoing);
    else if (viaBase) return refuse(response, 403, 'that path leaves the resource');
    else {
      // Not the resource: pass it on untouched, without credentials.
      upstream = await options.fetch(target, {
        method: outgoing.method,
        headers,
        ...(body.length > 0 ? { body } : {}),
        redirect: 'manual',
      });
    }
    relay(upstream, response, viaBase ? (location) => toProxyUrl(location, options.resource, apiUrl) : (l) => l);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const apiUrl = `http://127.0.0.1:${port}/${capability}`;
  return {
    apiUrl,
    proxyUrl: `http://tether:${capability}@127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function relay(upstream: Response, response: ServerResponse, mapLocation: (location: string) => string): void {
  const headers: Record<string, string | string[]> = {};
  upstream.headers.forEach((value, name) => {
    if (DROP_RESPONSE.has(name)) return;
    if (name === 'set-cookie') return;
    headers[name] = name === 'location' ? mapLocation(value) : value;
  });
  const cookies = upstream.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  response.writeHead(upstream.status, upstream.statusText, headers);
  if (!upstream.body) {
    response.end();
    return;
  }
  // pipe() does not pass errors on: an upstream that dies mid-body must not leave CMD waiting forever.
  const body = Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream);
  body.on('error', () => response.destroy());
  body.pipe(response);
}

/** A redirect inside the resource is rewritten to go through the proxy again; any other is left alone. */
function toProxyUrl(location: string, resource: string, apiUrl: string): string {
  try {
    const absolute = new URL(location, resource).href;
    if (!isWithinResource(absolute, resource)) return location;
    const base = resource.replace(/\/+$/, '');
    return `${apiUrl}${absolute.slice(base.length)}`;
  } catch {
    return location;
  }
}

function refuse(response: ServerResponse, status: number, description: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify({ error: 'tether_proxy_refused', error_description: description }));
}

async function readBody(request: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function proxyPassword(header: string | undefined): string {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match?.[1]) return '';
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}

/** Constant-time comparison, so the capability cannot be guessed a byte at a time from response timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
