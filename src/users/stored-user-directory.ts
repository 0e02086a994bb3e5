import { canonicalUserId } from './canonical-id.js';
import { groupNames, type DirectoryStore, type DirectoryUser } from './directory.js';
import type { User, UserDirectory } from './user.js';

/**
 * The directory the server uses. Credentials come from where they are kept (local accounts' password hashes; later
 * passkeys and upstream providers); who the person is, whether they are still active and which groups they are in
 * come from the stored directory, so a person the directory deactivated or deleted is unknown everywhere: at
 * sign-in, at approval, at token issuance and at refresh.
 */
export class StoredUserDirectory implements UserDirectory {
  constructor(
    private readonly credentials: UserDirectory,
    private readonly store: DirectoryStore,
  ) {}

  async authenticate(username: string, password: string): Promise<User | undefined> {
    // The password check runs whatever the directory says, so an inactive person's refusal takes as long as a
    // wrong password's.
    const authenticated = await this.credentials.authenticate(username, password);
    if (!authenticated) return undefined;
    const record = (await this.store.findUser(authenticated.id)) ?? (await this.store.findUserByName(canonicalUserId(authenticated.username)));
    return record?.active ? userOf(record) : undefined;
  }

  async find(id: string): Promise<User | undefined> {
    const record = await this.store.findUser(id);
    if (!record?.active) return undefined;
    // A local account taken out of the configuration is gone, as it was before the directory was stored.
    if (record.source === 'local' && !(await this.credentials.find(record.id))) return undefined;
    return userOf(record);
  }
}

/** The person as sign-in, policy and tokens see them; groups are read from the directory at each use. */
export function userOf(record: DirectoryUser): User {
  return { id: record.id, username: record.userName, displayName: record.displayName, groups: groupNames(record) };
}
