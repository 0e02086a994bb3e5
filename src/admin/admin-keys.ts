import { constantTimeEqual, hashSecret } from '../shared/crypto.js';

/**
 * Admin API keys, configured as SHA-256 hashes only. A key is a random secret an operator keeps in their
 * secret store; the server never holds it in plain text.
 */
export class AdminKeys {
  constructor(private readonly hashes: readonly string[]) {}

  /** The key's label for the audit trail (a prefix of its hash), or undefined when it is not an admin key. */
  authenticate(presented: string | undefined): string | undefined {
    if (!presented) return undefined;
    const hash = hashSecret(presented);
    // Compare against every configured hash so timing says nothing about which (if any) matched.
    let match: string | undefined;
    for (const known of this.hashes) if (constantTimeEqual(hash, known)) match = known;
    return match === undefined ? undefined : `admin-key:${match.slice(0, 8)}`;
  }

  get configured(): boolean {
    return this.hashes.length > 0;
  }
}
