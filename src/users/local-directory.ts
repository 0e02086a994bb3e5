import { canonicalUserId } from './canonical-id.js';
import { hashPassword, verifyPassword } from './password.js';
import type { User, UserDirectory } from './user.js';

/** A local account as configured (`users:` in the YAML): the configuration's entries fit as they are. */
export interface LocalAccountEntry {
  username: string;
  name?: string | undefined;
  /** argon2id, from `tether hash-password`. */
  password_hash: string;
  groups: readonly string[];
}

interface LocalAccount {
  user: User;
  passwordHash: string;
}

/** Local accounts from the configuration, with argon2id password hashes. */
export class LocalUserDirectory implements UserDirectory {
  private readonly accounts = new Map<string, LocalAccount>();

  private constructor(private readonly decoyHash: string) {}

  static async create(users: readonly LocalAccountEntry[]): Promise<LocalUserDirectory> {
    // Verifying against a decoy for unknown names keeps "no such user" as slow as "wrong password".
    const directory = new LocalUserDirectory(await hashPassword('decoy password for unknown users'));
    for (const u of users) {
      // The id (what `sub`, grants and the audit log carry) is the canonical spelling, so every lookup by name or
      // id, whatever its case, finds the same person.
      const id = canonicalUserId(u.username);
      const user: User = { id, username: u.username, displayName: u.name ?? u.username, groups: u.groups };
      directory.accounts.set(id, { user, passwordHash: u.password_hash });
    }
    return directory;
  }

  async authenticate(username: string, password: string): Promise<User | undefined> {
    const account = this.accounts.get(canonicalUserId(username));
    const ok = await verifyPassword(account?.passwordHash ?? this.decoyHash, password);
    return ok && account ? account.user : undefined;
  }

  async find(id: string): Promise<User | undefined> {
    return this.accounts.get(canonicalUserId(id))?.user;
  }
}
