import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { VerifiedIdentity } from '../access-token.js';
import { refusalBody, type CheckOptions, type Guard, type GuardRefusal, type GuardRequest, type GuardResult } from '../guard.js';
import { rememberIdentity } from './identity.js';

export { identityOf } from './identity.js';

export interface NodeGuardOptions extends CheckOptions {
  /**
   * The origin clients use to reach this API (e.g. `https://api.example.com`), for the proofs' `htu`. Set it
   * whenever a proxy or load balancer sits in front; without it the origin is taken from this connection and the
   * Host header.
   */
  publicUrl?: string;
  /** The route template of the request, for policy (default: its path). */
  route?: (request: IncomingMessage) => string | undefined;
}

/** The origin of a request as this server received it. */
export function requestOrigin(request: IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl) return withoutTrailingSlash(publicUrl);
  const tls = (request.socket as Partial<TLSSocket>).encrypted === true;
  return `${tls ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}`;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** What the guard needs of a Node request. `origin`: {@link requestOrigin}'s answer, when the caller has it. */
export function guardRequestOf(request: IncomingMessage, options: NodeGuardOptions = {}, origin?: string): GuardRequest {
  const headers = request.headers;
  return {
    method: request.method ?? 'GET',
    url: (origin ?? requestOrigin(request, options.publicUrl)) + (request.url ?? '/'),
    authorization: headers.authorization,
    dpop: headers['dpop'],
    ip: request.socket.remoteAddress,
    userAgent: headers['user-agent'],
    route: options.route?.(request),
  };
}

/** Writes a refusal: its status, challenge and other headers, and the RFC 6750 JSON body. */
export function writeRefusal(response: ServerResponse, refusal: GuardRefusal): void {
  const body = refusalBody(refusal);
  response.writeHead(refusal.status, {
    ...refusal.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

/**
 * Wraps a Node `http` request listener: the handler runs only for requests the guard accepts, with the verified
 * identity; every other request gets the guard's refusal.
 *
 * @example
 * http.createServer(withGuard(guard, (req, res, who) => res.end(`hello ${who.sub}`), { publicUrl })).listen(8081);
 */
export function withGuard(
  guard: Guard,
  handler: (request: IncomingMessage, response: ServerResponse, identity: Readonly<VerifiedIdentity>) => unknown,
  options: NodeGuardOptions = {},
): (request: IncomingMessage, response: ServerResponse) => void {
  const fail = (response: ServerResponse): void => {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end('{"error":"server_error"}');
  };
  const answer = (request: IncomingMessage, response: ServerResponse, result: GuardResult): void => {
    if (!result.ok) {
      // The body of a refused request is not read; let it drain so the connection stays usable.
      request.resume();
      writeRefusal(response, result);
      return;
    }
    rememberIdentity(request, result.identity);
    const handled = handler(request, response, result.identity);
    if (handled instanceof Promise) handled.catch(() => fail(response));
  };
  // A configured public origin is the same for every request: trimmed once, here.
  const origin = options.publicUrl ? withoutTrailingSlash(options.publicUrl) : undefined;
  return (request, response) => {
    // Synchronous whenever the guard can answer at once (a token seen before): the response is then written in the
    // request's own callback, as a plain node:http handler would.
    try {
      const result = guard.checkNow(guardRequestOf(request, options, origin), options);
      if (result instanceof Promise) {
        result.then(
          (r) => {
            try {
              answer(request, response, r);
            } catch {
              fail(response);
            }
          },
          () => fail(response),
        );
      } else {
        answer(request, response, result);
      }
    } catch {
      fail(response);
    }
  };
}
