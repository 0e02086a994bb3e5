/**
 * The one form a username is compared and stored in: trimmed and lowercased, so "Alice" and "alice " are the same
 * person at sign-in, in the directory and in SCIM filters (RFC 7643 §4.1.1: `userName` is not case-exact).
 */
export function canonicalUsername(name: string): string {
  return name.trim().toLowerCase();
}
