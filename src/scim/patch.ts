import type { DirectoryEmail } from '../users/directory.js';
import { badRequest } from './errors.js';
import { stripSchema } from './filter.js';
import { parseMembers, type GroupDraft } from './group-resource.js';
import { assertMessage, attribute, boolean, isObject, optionalString, requiredString } from './json.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from './schemas.js';
import { IGNORED_USER_ATTRIBUTES, parseEmail, parseEmails, type UserDraft } from './user-resource.js';

export type PatchOpName = 'add' | 'remove' | 'replace';

export interface PatchOperation {
  op: PatchOpName;
  path?: string;
  value?: unknown;
}

/** More operations than this in one request is a mistake, not a provisioning run. */
const MAX_OPERATIONS = 100;

/**
 * A PatchOp message (RFC 7644 §3.5.2): `Operations`, each with `op` (add, remove, replace; Entra ID capitalises
 * them), an optional `path` and a `value`. Structure errors are `invalidSyntax`; a remove without a path is
 * `noTarget`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */
export function parsePatch(body: unknown): PatchOperation[] {
  assertMessage(body, PATCH_OP_SCHEMA);
  const operations = attribute(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) throw badRequest('invalidSyntax', 'Operations must be a non-empty list.');
  if (operations.length > MAX_OPERATIONS) throw badRequest('invalidValue', `At most ${MAX_OPERATIONS} operations per request.`);
  return operations.map((entry, i) => {
    if (!isObject(entry)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object.`);
    const op = attribute(entry, 'op');
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (name !== 'add' && name !== 'remove' && name !== 'replace') throw badRequest('invalidSyntax', `Operations[${i}].op must be add, remove or replace.`);
    const path = attribute(entry, 'path');
    if (path !== undefined && (typeof path !== 'string' || path.trim() === '')) throw badRequest('invalidPath', `Operations[${i}].path must be a string.`);
    if (name === 'remove' && path === undefined) throw badRequest('noTarget', `Operations[${i}]: remove needs a path.`);
    const value = attribute(entry, 'value');
    if (name !== 'remove' && value === undefined) throw badRequest('invalidValue', `Operations[${i}]: ${name} needs a value.`);
    return { op: name, ...(typeof path === 'string' ? { path } : {}), ...(value !== undefined ? { value } : {}) };
  });
}

/** A parsed path: `attr`, `attr.sub`, `attr[filterAttr eq value]`, `attr[filterAttr eq value].sub` (RFC 7644 §3.10). */
interface Path {
  extension: boolean;
  attr: string;
  sub?: string;
  filter?: { attr: string; value: unknown };
}

const PATH = /^([A-Za-z][\w$-]*)(?:\[\s*([A-Za-z][\w$-]*)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false|-?\d+(?:\.\d+)?)\s*\])?(?:\.([A-Za-z][\w$-]*))?$/i;

function parsePath(raw: string, schema: string): Path {
  const path = stripSchema(raw.trim(), schema);
  if (path.toLowerCase().startsWith('urn:')) return { extension: true, attr: path.toLowerCase() };
  const match = PATH.exec(path);
  if (!match?.[1]) throw badRequest('invalidPath', `The path ${raw.slice(0, 100)} is not supported.`);
  let filter: Path['filter'];
  if (match[2] && match[3]) {
    let value: unknown;
    try {
      value = JSON.parse(match[3]);
    } catch {
      throw badRequest('invalidPath', 'The path filter value is not valid.');
    }
    filter = { attr: match[2].toLowerCase(), value };
  }
  return { extension: false, attr: match[1].toLowerCase(), ...(match[4] ? { sub: match[4].toLowerCase() } : {}), ...(filter ? { filter } : {}) };
}

/** Applies a user's PatchOp operations to a draft, in order (RFC 7644 §3.5.2: all or nothing; the caller stores once). */
export function applyUserPatch(draft: UserDraft, operations: readonly PatchOperation[]): UserDraft {
  const next: UserDraft = { ...draft, emails: draft.emails.map((e) => ({ ...e })) };
  for (const operation of operations) {
    if (operation.path === undefined) {
      for (const [key, value] of Object.entries(valueObject(operation.value))) {
        if (['id', 'schemas', 'meta'].includes(key.toLowerCase())) continue;
        if (key.toLowerCase() === ENTERPRISE_USER_SCHEMA.toLowerCase()) continue;
        applyUserPath(next, operation.op, parsePath(key, USER_SCHEMA), value);
      }
    } else {
      applyUserPath(next, operation.op, parsePath(operation.path, USER_SCHEMA), operation.value);
    }
  }
  return next;
}

function valueObject(value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw badRequest('invalidValue', 'An operation without a path needs an object value.');
  return value;
}

function applyUserPath(draft: UserDraft, op: PatchOpName, path: Path, value: unknown): void {
  if (path.extension) {
    // The enterprise extension (department, manager, …) is accepted and not kept; other schemas are not ours.
    if (path.attr.startsWith(ENTERPRISE_USER_SCHEMA.toLowerCase())) return;
    throw badRequest('invalidPath', 'Only the core and enterprise User schemas are supported.');
  }
  if (path.filter && path.attr !== 'emails') throw badRequest('invalidPath', `The path ${path.attr}[…] is not supported.`);
  switch (path.attr) {
    case 'id':
    case 'meta':
    case 'groups':
    case 'schemas':
      throw badRequest('mutability', `${path.attr} is read-only here (group membership changes through the Group).`);
    case 'username':
      if (op === 'remove') throw badRequest('invalidValue', 'userName is required and cannot be removed.');
      draft.userName = requiredString(value, 'userName');
      return;
    case 'displayname':
      draft.displayName = op === 'remove' ? draft.userName : requiredString(value, 'displayName').trim();
      return;
    case 'externalid':
      draft.externalId = op === 'remove' ? null : (optionalString(value, 'externalId') ?? null);
      return;
    case 'active':
      // Removing `active` would leave it to a default; offboarding and reactivation are said explicitly.
      if (op === 'remove') throw badRequest('invalidValue', 'active cannot be removed; replace it with true or false.');
      draft.active = boolean(value, 'active');
      return;
    case 'emails':
      applyEmails(draft, op, path, value);
      return;
    default:
      if (IGNORED_USER_ATTRIBUTES.has(path.attr)) return;
      throw badRequest('invalidPath', `No User attribute ${path.attr}.`);
  }
}

function applyEmails(draft: UserDraft, op: PatchOpName, path: Path, value: unknown): void {
  const { filter, sub } = path;
  if (sub !== undefined && !['value', 'type', 'primary'].includes(sub)) throw badRequest('invalidPath', `No emails sub-attribute ${sub}.`);
  if (!filter) {
    if (sub !== undefined) throw badRequest('invalidPath', 'An emails sub-attribute needs a filter, like emails[type eq "work"].value.');
    if (op === 'remove') draft.emails = [];
    else if (op === 'replace') draft.emails = parseEmails(Array.isArray(value) ? value : [value]);
    else draft.emails = [...draft.emails, ...parseEmails(Array.isArray(value) ? value : [value])];
    return;
  }
  if (!['value', 'type', 'primary'].includes(filter.attr)) throw badRequest('invalidPath', `emails cannot be filtered on ${filter.attr}.`);
  const matches = (e: DirectoryEmail) => {
    const field = filter.attr === 'value' ? e.value : filter.attr === 'type' ? e.type : e.primary;
    return typeof field === 'string' && typeof filter.value === 'string' ? field.toLowerCase() === filter.value.toLowerCase() : field === filter.value;
  };
  if (op === 'remove') {
    draft.emails = draft.emails.filter((e) => !matches(e));
    return;
  }
  const replacement = (current: DirectoryEmail | undefined): DirectoryEmail => {
    if (sub === undefined) return parseEmail(value, 'emails');
    const base: DirectoryEmail = current ? { ...current } : { value: '', ...(filter.attr === 'type' && typeof filter.value === 'string' ? { type: filter.value } : {}) };
    if (sub === 'value') base.value = requiredString(value, 'emails.value', 320);
    else if (sub === 'type') base.type = requiredString(value, 'emails.type', 64);
    else base.primary = boolean(value, 'emails.primary');
    if (!base.value) throw badRequest('invalidValue', 'An email needs a value.');
    return base;
  };
  if (draft.emails.some(matches)) {
    draft.emails = draft.emails.map((e) => (matches(e) ? replacement(e) : e));
  } else {
    // Entra ID sets `emails[type eq "work"].value` on a user without a work address: that adds one.
    draft.emails = [...draft.emails, replacement(undefined)];
  }
}

/** Applies a group's PatchOp operations to a draft, in order. */
export function applyGroupPatch(draft: GroupDraft, operations: readonly PatchOperation[]): GroupDraft {
  const next: GroupDraft = { ...draft, memberIds: [...draft.memberIds] };
  for (const operation of operations) {
    if (operation.path === undefined) {
      for (const [key, value] of Object.entries(valueObject(operation.value))) {
        // Okta repeats the group's id in a replace; it is not a change.
        if (['id', 'schemas', 'meta'].includes(key.toLowerCase())) continue;
        applyGroupPath(next, operation.op, parsePath(key, GROUP_SCHEMA), value);
      }
    } else {
      applyGroupPath(next, operation.op, parsePath(operation.path, GROUP_SCHEMA), operation.value);
    }
  }
  return next;
}

function applyGroupPath(draft: GroupDraft, op: PatchOpName, path: Path, value: unknown): void {
  if (path.extension) throw badRequest('invalidPath', 'Only the core Group schema is supported.');
  if (path.attr !== 'members' && (path.filter || path.sub)) throw badRequest('invalidPath', `The path ${path.attr} takes no filter or sub-attribute.`);
  switch (path.attr) {
    case 'id':
    case 'meta':
    case 'schemas':
      throw badRequest('mutability', `${path.attr} is read-only.`);
    case 'displayname':
      if (op === 'remove') throw badRequest('invalidValue', 'displayName is required and cannot be removed.');
      draft.displayName = requiredString(value, 'displayName').trim();
      return;
    case 'externalid':
      draft.externalId = op === 'remove' ? null : (optionalString(value, 'externalId') ?? null);
      return;
    case 'members':
      applyMembers(draft, op, path, value);
      return;
    default:
      throw badRequest('invalidPath', `No Group attribute ${path.attr}.`);
  }
}

function applyMembers(draft: GroupDraft, op: PatchOpName, path: Path, value: unknown): void {
  if (path.sub !== undefined) throw badRequest('invalidPath', 'members takes no sub-attribute here.');
  if (path.filter) {
    if (path.filter.attr !== 'value' || typeof path.filter.value !== 'string') {
      throw badRequest('invalidPath', 'members can be filtered only as members[value eq "<user id>"].');
    }
    if (op !== 'remove') throw badRequest('invalidPath', 'A filtered members path can only be removed.');
    const id = path.filter.value;
    draft.memberIds = draft.memberIds.filter((m) => m !== id);
    return;
  }
  if (op === 'remove') {
    // Entra ID names the members to remove in the value; without one, every member goes (RFC 7644 §3.5.2.2).
    const named = value === undefined || value === null ? undefined : new Set(parseMembers(value));
    draft.memberIds = named ? draft.memberIds.filter((m) => !named.has(m)) : [];
    return;
  }
  const ids = parseMembers(value);
  draft.memberIds = op === 'replace' ? [...new Set(ids)] : [...new Set([...draft.memberIds, ...ids])];
}
