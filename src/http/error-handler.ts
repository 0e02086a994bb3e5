import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequest, OAuthError, ServerError } from '../oauth/errors.js';
import { noStore } from './oauth-reply.js';
import { renderErrorPage } from './pages/message-page.js';
import { securePage } from './security-headers.js';

/**
 * One place turns any error into a response. OAuth errors become the RFC 6749 §5.2 JSON; the framework's own
 * 4xx (bad content type, body too large, malformed body) become invalid_request; anything else is a server_error
 * with nothing internal in it. Pages get the same decisions rendered as HTML.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const oauth = toOAuthError(error);
    if (oauth instanceof ServerError) request.log.error({ err: { type: error.name, code: error.code } }, 'request failed');
    if (isPage(request)) {
      securePage(reply).code(oauth.status).type('text/html; charset=utf-8');
      return reply.send(renderErrorPage(oauth));
    }
    noStore(reply).code(oauth.status).headers(oauth.headers);
    return reply.send(oauth.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404);
    if (isPage(request)) return securePage(reply).type('text/html; charset=utf-8').send(renderErrorPage(undefined));
    return reply.send({ error: 'not_found', error_description: 'No such endpoint.' });
  });
}

function toOAuthError(error: FastifyError): OAuthError {
  if (error instanceof OAuthError) return error;
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new InvalidRequest('The request body is too large.');
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new InvalidRequest('Unsupported content type.');
    return new InvalidRequest('The request is malformed.');
  }
  return new ServerError();
}

function isPage(request: FastifyRequest): boolean {
  const config = request.routeOptions.config as { page?: boolean } | undefined;
  // `/device` and below are the verification pages; `/devices/…` is the device API (JSON).
  return config?.page === true || (request.method === 'GET' && /^\/device(?:[/?]|$)/.test(request.url));
}
