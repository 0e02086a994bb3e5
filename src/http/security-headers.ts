import type { FastifyReply } from 'fastify';

/**
 * Headers for every HTML page: a CSP that allows only our own stylesheet and forms posting back to us (no script
 * at all), no framing (clickjacking an Approve button), no referrer (verification_uri_complete carries the user
 * code in its query), no caching.
 */
const CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function securePage(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}
