import type { DirectoryGroup } from '../users/directory.js';
import { badRequest } from './errors.js';
import { etagOf } from './etag.js';
import { assertMessage, attribute, isObject, optionalString, requiredString, type JsonObject } from './json.js';
import { GROUP_SCHEMA } from './schemas.js';

/** The Group attributes this server keeps. */
export interface GroupDraft {
  displayName: string;
  externalId: string | null;
  memberIds: string[];
}

/** How many members one write may name. */
export const MAX_MEMBERS = 1000;

const KNOWN = new Set(['displayname', 'externalid', 'members', 'id', 'meta', 'schemas']);

/**
 * A Group from a POST or PUT body (RFC 7643 §4.2): `displayName` required; `members` reference users by id.
 * Nested groups are not supported: a member of type `Group` is refused.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-4.2
 */
export function parseGroupBody(body: unknown): GroupDraft {
  assertMessage(body, GROUP_SCHEMA);
  for (const key of Object.keys(body)) {
    if (!key.toLowerCase().startsWith('urn:') && !KNOWN.has(key.toLowerCase())) throw badRequest('invalidValue', `Unknown Group attribute ${key}.`);
  }
  return {
    displayName: requiredString(attribute(body, 'displayName'), 'displayName').trim(),
    externalId: optionalString(attribute(body, 'externalId'), 'externalId') ?? null,
    memberIds: parseMembers(attribute(body, 'members')),
  };
}

/** `members`: a list of `{ value: <user id> }` (RFC 7643 §4.2). */
export function parseMembers(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > MAX_MEMBERS) throw badRequest('invalidValue', `At most ${MAX_MEMBERS} members per request.`);
  return list.map((entry, i) => {
    if (!isObject(entry)) throw badRequest('invalidValue', `members[${i}] must be an object with a value.`);
    const type = optionalString(attribute(entry, 'type'), `members[${i}].type`);
    if (type !== undefined && type.toLowerCase() !== 'user') throw badRequest('invalidValue', 'Only users can be members; nested groups are not supported.');
    return requiredString(attribute(entry, 'value'), `members[${i}].value`);
  });
}

/** The Group as SCIM shows it. */
export function groupResource(group: DirectoryGroup, baseUrl: string): JsonObject {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId !== null ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: group.members.map((m) => ({ value: m.id, display: m.userName, $ref: `${baseUrl}/Users/${m.id}`, type: 'User' })),
    meta: {
      resourceType: 'Group',
      created: new Date(group.createdAt * 1000).toISOString(),
      lastModified: new Date(group.updatedAt * 1000).toISOString(),
      location: `${baseUrl}/Groups/${group.id}`,
      version: etagOf(group.version),
    },
  };
}

export function groupDraftOf(group: DirectoryGroup): GroupDraft {
  return { displayName: group.displayName, externalId: group.externalId, memberIds: group.members.map((m) => m.id) };
}
