import { createHash } from 'node:crypto';
import { canonicalUserId } from './canonical-id.js';
import type { User, UserDirectory } from './user.js';

/** A person as an upstream OpenID provider describes them, after the claim mapping. */
export interface UpstreamIdentity {
  /** The configured provider name. */
  provider: string;
  /** The ID token's `sub`: stable and unique at that provider (OpenID Connect Core §2). */
  subject: string;
  username: string;
  displayName: string;
  email: string | null;
  groups: readonly string[];
}

/**
 * The narrow port just-in-time provisioning needs: create or update the person an upstream sign-in names, and find
 * them again by id. A persisted user directory (SCIM) can implement it in place of the small table behind it now.
 */
export interface UpstreamUserStore {
  upsertUpstreamUser(user: User & { provider: string; subject: string; email: string | null }, now: number): Promise<void>;
  findUpstreamUser(id: string): Promise<User | undefined>;
}

/**
 * The user id of an upstream person: `<provider>:<sub>`. Local usernames never hold a colon, so the two never meet.
 * A `sub` that is not already in canonical form (ids are compared canonically everywhere) is named by its hash
 * instead, so two subjects that differ only in case stay two people.
 */
export function upstreamUserId(provider: string, subject: string): string {
  const canonical = canonicalUserId(subject);
  const part = canonical === subject && subject.length <= 128 ? subject : `h-${createHash('sha256').update(subject).digest('hex').slice(0, 40)}`;
  return `${provider}:${part}`;
}

/**
 * The people who can approve: local accounts (passwords, passkeys) and the people upstream providers brought in.
 * Lookups by id go to the directory the id belongs to; password sign-in is local only.
 */
export class CombinedDirectory implements UserDirectory {
  constructor(
    private readonly local: UserDirectory,
    private readonly upstream: UpstreamUserStore,
  ) {}

  authenticate(username: string, password: string): Promise<User | undefined> {
    return this.local.authenticate(username, password);
  }

  find(id: string): Promise<User | undefined> {
    return id.includes(':') ? this.upstream.findUpstreamUser(canonicalUserId(id)) : this.local.find(id);
  }

  /** Creates or refreshes the person an upstream sign-in names (their groups follow the provider's claims). */
  async provision(identity: UpstreamIdentity, now: number): Promise<User> {
    const user: User = {
      id: upstreamUserId(identity.provider, identity.subject),
      username: identity.username,
      displayName: identity.displayName,
      groups: [...new Set(identity.groups)],
    };
    await this.upstream.upsertUpstreamUser({ ...user, provider: identity.provider, subject: identity.subject, email: identity.email }, now);
    return user;
  }
}
