import type { Clock } from '../shared/clock.js';
import type { DirectoryStore, DirectoryUser, UserFields, UserSource, WriteResult } from '../users/directory.js';
import type { Offboarding } from '../users/offboarding.js';
import { directoryChanged, writeFailure, type ScimOperation } from './directory-events.js';
import { notFound, preconditionFailed } from './errors.js';
import { requiredVersion } from './etag.js';
import { parseEqualityFilter } from './filter.js';
import type { JsonObject } from './json.js';
import { listResponse, parsePaging } from './list-response.js';
import { applyUserPatch, parsePatch } from './patch.js';
import { USER_SCHEMA } from './schemas.js';
import { draftOf, parseUserBody, userResource, type UserDraft } from './user-resource.js';

export interface ScimServiceDeps {
  store: DirectoryStore;
  offboarding: Offboarding;
  clock: Clock;
  /** The SCIM base URL (`{issuer}/scim/v2`), for `meta.location` and `$ref`. */
  baseUrl: string;
}

/** A resource and the version its ETag names. */
export interface ScimResult {
  resource: JsonObject;
  version: number;
}

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: string | undefined;
  count?: string | undefined;
}

/**
 * The Users endpoint's logic (RFC 7644 §3): create, read, list with an equality filter, replace, patch and delete,
 * each write conditional on If-Match and audited with the SCIM client as actor. A write that takes a person from
 * active to inactive, or deletes an active person, offboards them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3
 */
export class ScimUsers {
  constructor(private readonly deps: ScimServiceDeps) {}

  async get(id: string): Promise<ScimResult> {
    const user = await this.deps.store.findUser(id);
    if (!user) throw notFound('User');
    return this.result(user);
  }

  async list(query: ListQuery): Promise<JsonObject> {
    const filter = query.filter === undefined ? undefined : parseEqualityFilter(query.filter, ['userName', 'externalId', 'id'] as const, USER_SCHEMA);
    const paging = parsePaging(query.startIndex, query.count);
    const { total, users } = await this.deps.store.listUsers(filter, paging);
    return listResponse(total, paging.startIndex, users.map((u) => userResource(u, this.deps.baseUrl)));
  }

  async create(body: unknown, actor: string): Promise<ScimResult> {
    const parsed = parseUserBody(body);
    const draft: UserDraft = { ...parsed, active: parsed.active ?? true };
    const now = this.deps.clock.now();
    const written = await this.deps.store.createUser(
      fieldsOf(draft, []),
      'scim',
      now,
      (user) => [directoryChanged(actor, 'User', 'create', user, now, { user_name: user.userName, active: user.active })],
      // The directory may create a name it deleted before: a new person, with a new id.
      { replaceDeleted: true },
    );
    if (!written.ok) throw writeFailure(written.reason, 'User');
    return this.result(written.after);
  }

  replace(id: string, body: unknown, ifMatch: string | undefined, actor: string): Promise<ScimResult> {
    const parsed = parseUserBody(body);
    return this.update(id, (current) => ({ ...parsed, active: parsed.active ?? current.active }), ifMatch, actor, 'replace');
  }

  patch(id: string, body: unknown, ifMatch: string | undefined, actor: string): Promise<ScimResult> {
    const operations = parsePatch(body);
    return this.update(id, (current) => applyUserPatch(draftOf(current), operations), ifMatch, actor, 'patch');
  }

  async delete(id: string, ifMatch: string | undefined, actor: string): Promise<void> {
    const expected = await this.expectedVersion(id, ifMatch);
    const now = this.deps.clock.now();
    const written = await this.deps.store.deleteUser(id, expected, now, (user) => [
      directoryChanged(actor, 'User', 'delete', user, now, { user_name: user.userName }),
    ]);
    if (!written.ok) throw writeFailure(written.reason, 'User');
    // Already inactive means already offboarded; deleting them ends nothing more.
    if (written.after.active) {
      await this.deps.offboarding.offboard({ userId: id, userName: written.after.userName, reason: 'deleted', actor, at: now });
    }
  }

  private async update(
    id: string,
    change: (current: DirectoryUser) => UserDraft,
    ifMatch: string | undefined,
    actor: string,
    operation: ScimOperation,
  ): Promise<ScimResult> {
    const expected = await this.expectedVersion(id, ifMatch);
    const now = this.deps.clock.now();
    const written = await unlessRaced(expected, () => this.deps.store.updateUser(
      id,
      (current) => {
        // The directory takes over a record it writes (a configured account, one provisioned at sign-in): from then
        // on its groups are the directory's memberships alone.
        const source: UserSource = 'scim';
        return { fields: fieldsOf(change(current), []), source };
      },
      expected,
      now,
      (before, after) => [
        directoryChanged(actor, 'User', operation, after, now, {
          user_name: after.userName,
          active: after.active,
          ...(before.source !== after.source ? { taken_over_from: before.source } : {}),
        }),
      ],
    ));
    if (!written.ok) throw writeFailure(written.reason, 'User');
    const { before, after } = written;
    if (before?.active && !after.active) {
      await this.deps.offboarding.offboard({ userId: id, userName: after.userName, reason: 'deactivated', actor, at: now });
    }
    return this.result((await this.deps.store.findUser(id)) ?? after);
  }

  /** What If-Match requires of the stored version, checked again inside the write's transaction. */
  private async expectedVersion(id: string, ifMatch: string | undefined): Promise<number | undefined> {
    if (ifMatch === undefined) return undefined;
    const current = await this.deps.store.findUser(id);
    if (!current) throw notFound('User');
    const required = requiredVersion(ifMatch, current.version);
    if (required === false) throw preconditionFailed();
    return required;
  }

  private result(user: DirectoryUser): ScimResult {
    return { resource: userResource(user, this.deps.baseUrl), version: user.version };
  }
}

/** Attempts at a write that lost a race to another writer, when the client did not ask for a version. */
const RACE_RETRIES = 3;

/**
 * Runs a write again when it lost to a concurrent one and the client named no version: the change is applied to
 * the newer state, as if it had come a moment later. With If-Match the loss is the client's 412.
 */
export async function unlessRaced<T>(expected: number | undefined, write: () => Promise<WriteResult<T>>): Promise<WriteResult<T>> {
  let result = await write();
  for (let i = 1; i < RACE_RETRIES && expected === undefined && !result.ok && result.reason === 'version_mismatch'; i++) result = await write();
  return result;
}

function fieldsOf(draft: UserDraft, sourceGroups: readonly string[]): UserFields {
  return { ...draft, sourceGroups };
}
