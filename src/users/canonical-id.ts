/**
 * The one spelling of a user identifier: Unicode NFKC, trimmed, lower case. Sign-in, the admin API's revoke by
 * user and audit queries all pass through it, so `ALICE`, ` alice` and `alice` name the same person and a
 * revocation for one of them can never silently miss the others.
 */
export function canonicalUserId(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}
