import type { DirectoryGroup } from '../users/directory.js';
import { directoryChanged, writeFailure, type ScimOperation } from './directory-events.js';
import { notFound, preconditionFailed } from './errors.js';
import { requiredVersion } from './etag.js';
import { parseEqualityFilter } from './filter.js';
import { groupDraftOf, groupResource, parseGroupBody, type GroupDraft } from './group-resource.js';
import type { JsonObject } from './json.js';
import { listResponse, parsePaging } from './list-response.js';
import { applyGroupPatch, parsePatch } from './patch.js';
import { GROUP_SCHEMA } from './schemas.js';
import { unlessRaced, type ListQuery, type ScimResult, type ScimServiceDeps } from './scim-users.js';

/**
 * The Groups endpoint's logic. A membership change is what policy sees next: groups are read from the directory
 * at every decision and every token, so no session has to end for it to count.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3
 */
export class ScimGroups {
  constructor(private readonly deps: Omit<ScimServiceDeps, 'offboarding'>) {}

  async get(id: string): Promise<ScimResult> {
    const group = await this.deps.store.findGroup(id);
    if (!group) throw notFound('Group');
    return this.result(group);
  }

  async list(query: ListQuery): Promise<JsonObject> {
    const filter = query.filter === undefined ? undefined : parseEqualityFilter(query.filter, ['displayName', 'externalId', 'id'] as const, GROUP_SCHEMA);
    const paging = parsePaging(query.startIndex, query.count);
    const { total, groups } = await this.deps.store.listGroups(filter, paging);
    return listResponse(total, paging.startIndex, groups.map((g) => groupResource(g, this.deps.baseUrl)));
  }

  async create(body: unknown, actor: string): Promise<ScimResult> {
    const draft = parseGroupBody(body);
    const now = this.deps.clock.now();
    const written = await this.deps.store.createGroup(draft, now, (group) => [
      directoryChanged(actor, 'Group', 'create', group, now, { display_name: group.displayName, members: group.members.length }),
    ]);
    if (!written.ok) throw writeFailure(written.reason, 'Group');
    return this.result(written.after);
  }

  replace(id: string, body: unknown, ifMatch: string | undefined, actor: string): Promise<ScimResult> {
    const draft = parseGroupBody(body);
    return this.update(id, () => draft, ifMatch, actor, 'replace');
  }

  patch(id: string, body: unknown, ifMatch: string | undefined, actor: string): Promise<ScimResult> {
    const operations = parsePatch(body);
    return this.update(id, (current) => applyGroupPatch(groupDraftOf(current), operations), ifMatch, actor, 'patch');
  }

  async delete(id: string, ifMatch: string | undefined, actor: string): Promise<void> {
    const expected = await this.expectedVersion(id, ifMatch);
    const now = this.deps.clock.now();
    const written = await this.deps.store.deleteGroup(id, expected, now, (group) => [
      directoryChanged(actor, 'Group', 'delete', group, now, { display_name: group.displayName }),
    ]);
    if (!written.ok) throw writeFailure(written.reason, 'Group');
  }

  private async update(id: string, change: (current: DirectoryGroup) => GroupDraft, ifMatch: string | undefined, actor: string, operation: ScimOperation) {
    const expected = await this.expectedVersion(id, ifMatch);
    const now = this.deps.clock.now();
    const written = await unlessRaced(expected, () => this.deps.store.updateGroup(id, change, expected, now, (before, after) => {
      const was = new Set(before.members.map((m) => m.id));
      const is = new Set(after.members.map((m) => m.id));
      return [
        directoryChanged(actor, 'Group', operation, after, now, {
          display_name: after.displayName,
          added: [...is].filter((m) => !was.has(m)),
          removed: [...was].filter((m) => !is.has(m)),
        }),
      ];
    }));
    if (!written.ok) throw writeFailure(written.reason, 'Group');
    return this.result(written.after);
  }

  private async expectedVersion(id: string, ifMatch: string | undefined): Promise<number | undefined> {
    if (ifMatch === undefined) return undefined;
    const current = await this.deps.store.findGroup(id);
    if (!current) throw notFound('Group');
    const required = requiredVersion(ifMatch, current.version);
    if (required === false) throw preconditionFailed();
    return required;
  }

  private result(group: DirectoryGroup): ScimResult {
    return { resource: groupResource(group, this.deps.baseUrl), version: group.version };
  }
}
