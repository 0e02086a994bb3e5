import type { AuditEventInput } from '../audit/event.js';
import { canonicalUserId } from './canonical-id.js';
import type { DirectoryEmail, DirectoryStore, DirectoryUser, UserSource } from './directory.js';

/** What an upstream provider asserted about the person who just signed in there. */
export interface UpstreamIdentity {
  userName: string;
  displayName: string;
  emails: readonly DirectoryEmail[];
  groups: readonly string[];
}

export type ProvisioningOutcome =
  | { status: 'signed_in'; user: DirectoryUser }
  /** The directory deactivated (or deleted) this person: the provider's sign-in does not bring them back. */
  | { status: 'inactive' }
  /** The name belongs to a record of another source (a local account, another provider); the caller decides. */
  | { status: 'other_source'; user: DirectoryUser };

/**
 * Just-in-time provisioning for sign-in through an upstream OpenID Connect provider (the port the upstream sign-in
 * uses; issue 14 point 1). A person signing in for the first time is created with source `upstream:<name>`; later
 * sign-ins refresh their name, addresses and groups from the claims. Two rules hold whatever the provider says: a
 * person the directory deactivated or deleted stays out, and a record the directory (SCIM) manages keeps what the
 * directory says, so that a sign-in cannot undo an offboarding.
 */
export async function provisionJustInTime(
  store: DirectoryStore,
  provider: string,
  identity: UpstreamIdentity,
  now: number,
  events: (user: DirectoryUser) => AuditEventInput[] = () => [],
): Promise<ProvisioningOutcome> {
  const source: UserSource = `upstream:${provider}`;
  const existing = await store.findUserByName(canonicalUserId(identity.userName));
  if (existing) {
    if (!existing.active) return { status: 'inactive' };
    if (existing.source === 'scim') return { status: 'signed_in', user: existing };
    if (existing.source !== source) return { status: 'other_source', user: existing };
    const written = await store.updateUser(
      existing.id,
      (current) => ({
        fields: { userName: current.userName, displayName: identity.displayName, emails: identity.emails, externalId: current.externalId, active: current.active, sourceGroups: identity.groups },
        source,
      }),
      existing.version,
      now,
      (_before, after) => events(after),
    );
    if (!written.ok) return written.reason === 'missing' ? { status: 'inactive' } : { status: 'signed_in', user: (await store.findUser(existing.id)) ?? existing };
    return written.after.active ? { status: 'signed_in', user: written.after } : { status: 'inactive' };
  }
  const created = await store.createUser(
    { userName: identity.userName, displayName: identity.displayName, emails: identity.emails, externalId: null, active: true, sourceGroups: identity.groups },
    source,
    now,
    events,
  );
  if (created.ok) return { status: 'signed_in', user: created.after };
  // Lost a race to a concurrent first sign-in, or the name is a deleted person's marker: ask again.
  const now2 = await store.findUserByName(canonicalUserId(identity.userName));
  if (!now2 || !now2.active) return { status: 'inactive' };
  return now2.source === source || now2.source === 'scim' ? { status: 'signed_in', user: now2 } : { status: 'other_source', user: now2 };
}
