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

/**
 * The pages that offer passkeys (sign-in, the passkey list) also run /static/passkey.js and let it fetch WebAuthn
 * options from us: `script-src 'self'` and `connect-src 'self'`, never inline script. The review page, with its
 * Approve button, keeps `script-src 'none'`.
 */
const CSP_WITH_PASSKEY_SCRIPT = `${CSP}; script-src 'self'; connect-src 'self'`;

export function securePage(reply: FastifyReply, options: { script?: boolean } = {}): FastifyReply {
  return reply
    .header('content-security-policy', options.script ? CSP_WITH_PASSKEY_SCRIPT : CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}
