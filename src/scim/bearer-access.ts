import { constantTimeEqual, hashSecret } from '../shared/crypto.js';

/**
 * Who may call the SCIM API: a client presenting a bearer token (RFC 6750 §2.1) whose SHA-256 hash is configured.
 * The token is never stored; every configured hash is compared, in constant time, so the time taken says nothing
 * about which (if any) matched. The caller is named by the first characters of its hash, which identify the token
 * in the audit without revealing it.
 */
export class ScimAccess {
  constructor(private readonly tokenHashes: readonly string[]) {}

  /** The actor name (`scim:<hash prefix>`) of a valid Authorization header, or undefined. */
  authenticate(authorization: string | undefined): string | undefined {
    const match = /^Bearer ([\x21-\x7E]+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return undefined;
    const hash = hashSecret(match[1]);
    let found: string | undefined;
    for (const known of this.tokenHashes) if (constantTimeEqual(hash, known)) found = known;
    return found === undefined ? undefined : `scim:${found.slice(0, 8)}`;
  }
}
