import { isIP } from 'node:net';
import { constantTimeEqual, hashSecret } from '../shared/crypto.js';

/**
 * Who may read `/metrics`. Counts of logins, refusals and revocations by client tell an outsider what an
 * organisation does and when; they are for the operator's scraper. A scraper presents a bearer token whose
 * SHA-256 hash is configured (the token itself is never stored); optionally a peer on loopback needs none
 * (the dev tenant). The peer address is the socket's, never X-Forwarded-For, so a header cannot claim loopback.
 */
export class MetricsAccess {
  constructor(
    private readonly tokenHashes: readonly string[],
    private readonly allowLoopback: boolean,
  ) {}

  allows(authorization: string | undefined, peerAddress: string | undefined): boolean {
    if (this.allowLoopback && peerAddress !== undefined && isLoopback(peerAddress)) return true;
    const match = /^Bearer ([\x21-\x7E]+)$/.exec(authorization ?? '');
    if (!match?.[1]) return false;
    const hash = hashSecret(match[1]);
    // Compare against every hash so the time taken says nothing about which (if any) matched.
    let ok = false;
    for (const known of this.tokenHashes) if (constantTimeEqual(hash, known)) ok = true;
    return ok;
  }
}

function isLoopback(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}
