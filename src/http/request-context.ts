import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../oauth/request-origin.js';
import { InvalidDpopProof } from '../oauth/errors.js';

const MAX_USER_AGENT = 300;

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
