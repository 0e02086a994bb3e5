import type { DirectoryEmail, DirectoryUser } from '../users/directory.js';
import { badRequest } from './errors.js';
import { etagOf } from './etag.js';
import { assertMessage, attribute, boolean, isObject, optionalString, requiredString, type JsonObject } from './json.js';
import { USER_SCHEMA } from './schemas.js';

/** The User attributes this server keeps, as a SCIM write sets them. */
export interface UserDraft {
  userName: string;
  displayName: string;
  emails: DirectoryEmail[];
  externalId: string | null;
  active: boolean;
}

/** How many addresses one person may have here. */
const MAX_EMAILS = 20;

/**
 * Core User attributes accepted and not stored (Okta and Entra ID send them); `password` among them, because
 * credentials are not provisioned over SCIM. Any other attribute is refused so a typo is not silently dropped.
 */
export const IGNORED_USER_ATTRIBUTES = new Set([
  'name',
  'nickname',
  'profileurl',
  'title',
  'usertype',
  'preferredlanguage',
  'locale',
  'timezone',
  'phonenumbers',
  'addresses',
  'photos',
  'ims',
  'entitlements',
  'roles',
  'x509certificates',
  'password',
]);

/** Attributes the server sets (RFC 7643 §3.1, §4.1.2 `groups` is read-only); ignored in a POST or PUT body. */
export const READ_ONLY_USER_ATTRIBUTES = new Set(['id', 'meta', 'groups', 'schemas']);

/**
 * A User from a POST or PUT body (RFC 7643 §4.1): `userName` required, the rest optional; PUT replaces, so what is
 * missing becomes its default, except `active` (undefined here): a PUT that does not say it keeps the current
 * value, so a profile sync that leaves it out neither reactivates an offboarded person nor offboards anyone.
 * Extension attributes (the enterprise User) are accepted and not stored.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.5.1
 */
export function parseUserBody(body: unknown): Omit<UserDraft, 'active'> & { active: boolean | undefined } {
  assertMessage(body, USER_SCHEMA);
  for (const key of Object.keys(body)) {
    const name = key.toLowerCase();
    if (name.startsWith('urn:')) continue;
    if (!KNOWN.has(name) && !IGNORED_USER_ATTRIBUTES.has(name) && !READ_ONLY_USER_ATTRIBUTES.has(name)) {
      throw badRequest('invalidValue', `Unknown User attribute ${key}.`);
    }
  }
  const userName = requiredString(attribute(body, 'userName'), 'userName');
  const active = attribute(body, 'active');
  return {
    userName,
    displayName: displayNameOf(body, userName),
    emails: parseEmails(attribute(body, 'emails')),
    externalId: optionalString(attribute(body, 'externalId'), 'externalId') ?? null,
    active: active === undefined || active === null ? undefined : boolean(active, 'active'),
  };
}

const KNOWN = new Set(['username', 'displayname', 'emails', 'externalid', 'active']);

/** `displayName`, else the name's `formatted`, else given and family name, else the user name. */
function displayNameOf(body: JsonObject, userName: string): string {
  const explicit = optionalString(attribute(body, 'displayName'), 'displayName');
  if (explicit?.trim()) return explicit.trim();
  const name = attribute(body, 'name');
  if (name !== undefined && name !== null && !isObject(name)) throw badRequest('invalidValue', 'name must be an object.');
  if (isObject(name)) {
    const formatted = optionalString(attribute(name, 'formatted'), 'name.formatted');
    if (formatted?.trim()) return formatted.trim();
    const parts = [optionalString(attribute(name, 'givenName'), 'name.givenName'), optionalString(attribute(name, 'familyName'), 'name.familyName')];
    const joined = parts.filter((p) => p?.trim()).join(' ');
    if (joined) return joined;
  }
  return userName;
}

/** A multi-valued `emails` (RFC 7643 §4.1.2): each with a `value`, optionally `type` and `primary`. */
export function parseEmails(value: unknown): DirectoryEmail[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('invalidValue', 'emails must be a list.');
  if (value.length > MAX_EMAILS) throw badRequest('invalidValue', `At most ${MAX_EMAILS} emails.`);
  return value.map((entry, i) => parseEmail(entry, `emails[${i}]`));
}

export function parseEmail(entry: unknown, name: string): DirectoryEmail {
  if (!isObject(entry)) throw badRequest('invalidValue', `${name} must be an object with a value.`);
  const address = requiredString(attribute(entry, 'value'), `${name}.value`, 320);
  const type = optionalString(attribute(entry, 'type'), `${name}.type`, 64);
  const primary = attribute(entry, 'primary');
  return {
    value: address,
    ...(type !== undefined ? { type } : {}),
    ...(primary !== undefined && primary !== null ? { primary: boolean(primary, `${name}.primary`) } : {}),
  };
}

/**
 * The User as SCIM shows it, with `meta` (RFC 7643 §3.1) and `groups` read from the directory.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-8.2
 */
export function userResource(user: DirectoryUser, baseUrl: string): JsonObject {
  return {
    schemas: [USER_SCHEMA],
    id: user.id,
    ...(user.externalId !== null ? { externalId: user.externalId } : {}),
    userName: user.userName,
    displayName: user.displayName,
    active: user.active,
    emails: user.emails.map((e) => ({ ...e })),
    groups: user.memberOf.map((g) => ({ value: g.id, display: g.displayName, $ref: `${baseUrl}/Groups/${g.id}`, type: 'direct' })),
    meta: {
      resourceType: 'User',
      created: new Date(user.createdAt * 1000).toISOString(),
      lastModified: new Date(user.updatedAt * 1000).toISOString(),
      location: `${baseUrl}/Users/${user.id}`,
      version: etagOf(user.version),
    },
  };
}

/** The draft a stored person starts from, for PATCH. */
export function draftOf(user: DirectoryUser): UserDraft {
  return { userName: user.userName, displayName: user.displayName, emails: user.emails.map((e) => ({ ...e })), externalId: user.externalId, active: user.active };
}
