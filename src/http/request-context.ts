import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { InvalidDpopProof } from '../oauth/errors.js';

const MAX_USER_AGENT = 300;
/** What bare `--trust-proxy` trusts: a proxy on this machine. */
export const LOOPBACK_PROXIES = ['127.0.0.0/8', '::1/128'] as const;

/**
 * The proxies whose X-Forwarded-For the server believes, for the framework's `trustProxy`: loopback when
 * `trustLoopback` (the `--trust-proxy` flag), plus the configured `listen.trusted_proxies`; false when none. The
 * client address is then the first hop, from the right, that is not one of them (the peer itself when the peer
 * is not), so a client can prepend what it likes to the header and still not choose its address, and a header
 * sent straight to the server by anyone but a trusted proxy is ignored. IPv4-mapped IPv6 peers (::ffff:127.0.0.1)
 * match their IPv4 range.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7239#section-5.2
 */
export function proxyTrust(trustLoopback: boolean, configured: readonly string[]): string[] | false {
  const trusted = [...(trustLoopback ? LOOPBACK_PROXIES : []), ...configured];
  return trusted.length > 0 ? trusted : false;
}

/** Where a request came from, as the audit trail and the review screen show it. */
export function requestContext(request: FastifyRequest): RequestOrigin {
  const ua = request.headers['user-agent'] ?? '';
  return { ip: request.ip, userAgent: ua.slice(0, MAX_USER_AGENT) };
}

/** The DPoP header, if any; RFC 9449 §4.3 allows exactly one (Node joins repeated headers with a comma). */
export function dpopHeader(request: FastifyRequest): string | undefined {
  const value = request.headers['dpop'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.includes(',')) throw new InvalidDpopProof('Send exactly one DPoP header.');
  return value;
}
