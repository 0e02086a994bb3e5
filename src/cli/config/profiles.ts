import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

export const SECRET_STORE_KINDS = ['keyring', 'agent'] as const;
export type SecretStoreKind = (typeof SECRET_STORE_KINDS)[number];

/**
 * One signed-in session, as far as it may be written down: who, where, for what, until when, with which key and
 * where its secrets live. Nothing here is a credential; the secrets themselves are in the named store under
 * `account`.
 */
const profileSchema = z
  .object({
    issuer: z.string().url(),
    client_id: z.string().min(1),
    resource: z.string().url(),
    scopes: z.array(z.string()),
    subject: z.string(),
    account: z.string().min(1),
    secret_store: z.enum(SECRET_STORE_KINDS),
    key_thumbprint: z.string().min(1),
    access_token_expires_at: z.number(),
    signed_in_at: z.number(),
    token_endpoint: z.string().url(),
    revocation_endpoint: z.string().url().optional(),
    /** Tether's GET /session, where status and exec ask whether the grant still lives. */
    session_endpoint: z.string().url().optional(),
  })
  .strict();

export type Profile = z.infer<typeof profileSchema>;

const configSchema = z
  .object({
    version: z.literal(1),
    current: z.object({ issuer: z.string(), resource: z.string() }).strict().optional(),
    profiles: z.array(profileSchema),
  })
  .strict();

export type ClientConfig = z.infer<typeof configSchema>;

export class ConfigFileError extends Error {
  readonly code = 'config_file';
}

/** Which session a command means: by issuer and/or resource, else the current one. */
export interface ProfileSelector {
  issuer?: string | undefined;
  resource?: string | undefined;
}

/**
 * The client's config file: non-secret metadata, mode 0600 in a 0700 folder, replaced atomically so a crash never
 * leaves half a file.
 */
export class ProfileFile {
  constructor(readonly path: string) {}

  read(): ClientConfig {
    if (!existsSync(this.path)) return { version: 1, profiles: [] };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      throw new ConfigFileError(`${this.path} is not valid JSON; remove it and run tether login`);
    }
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigFileError(`${this.path}: ${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  write(config: ClientConfig): void {
    // The file holds no secret, but who is signed in where is nobody else's business: 0700 folder, 0600 file.
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(temp, `${JSON.stringify(configSchema.parse(config), null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.path);
  }

  /** The session a command without flags acts on, or the one the flags name. */
  select(selector: ProfileSelector = {}): Profile | undefined {
    const config = this.read();
    const issuer = selector.issuer?.replace(/\/+$/, '');
    const matches = config.profiles.filter(
      (p) => (issuer === undefined || p.issuer === issuer) && (selector.resource === undefined || p.resource === selector.resource),
    );
    // Among the sessions that fit, the current one wins: `--issuer X` alone means the session in use there.
    const current = config.profiles.find((p) => p.issuer === config.current?.issuer && p.resource === config.current.resource);
    if (current && matches.includes(current)) return current;
    return matches[0];
  }

  /** Records a new session (replacing any for the same issuer and resource) and makes it current. */
  save(profile: Profile): Profile | undefined {
    const config = this.read();
    const replaced = config.profiles.find((p) => p.issuer === profile.issuer && p.resource === profile.resource);
    const profiles = config.profiles.filter((p) => p !== replaced);
    profiles.push(profile);
    this.write({ version: 1, current: { issuer: profile.issuer, resource: profile.resource }, profiles });
    return replaced;
  }

  /** Updates a session's non-secret fields (e.g. the access token's expiry after a refresh), if it still exists. */
  update(account: string, change: Partial<Pick<Profile, 'access_token_expires_at' | 'scopes'>>): void {
    const config = this.read();
    const profile = config.profiles.find((p) => p.account === account);
    if (!profile) return;
    Object.assign(profile, change);
    this.write(config);
  }

  /** Forgets a session; the file goes when no session is left. */
  remove(account: string): void {
    const config = this.read();
    const profiles = config.profiles.filter((p) => p.account !== account);
    if (profiles.length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    const current = profiles.some((p) => p.issuer === config.current?.issuer && p.resource === config.current.resource)
      ? config.current
      : { issuer: profiles[0]!.issuer, resource: profiles[0]!.resource };
    this.write({ version: 1, current, profiles });
  }
}
