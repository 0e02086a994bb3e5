import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScimError } from './errors.js';
import { etagMatches, requiredVersion } from './etag.js';
import { parseEqualityFilter } from './filter.js';
import { applyGroupPatch, applyUserPatch, parsePatch } from './patch.js';
import { PATCH_OP_SCHEMA, USER_SCHEMA } from './schemas.js';
import type { UserDraft } from './user-resource.js';

const user: UserDraft = { userName: 'alice', displayName: 'Alice', emails: [{ value: 'a@old.example', type: 'work' }], externalId: null, active: true };
const ops = (...operations: unknown[]) => parsePatch({ schemas: [PATCH_OP_SCHEMA], Operations: operations });
const scimType = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ScimError);
    return error.scimType;
  }
  assert.fail('expected a SCIM error');
};

test('Entra ID style: capitalised ops, string Booleans, emails[type eq "work"].value, enterprise paths ignored', () => {
  const next = applyUserPatch(
    user,
    ops(
      { op: 'Replace', path: 'active', value: 'False' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'a@new.example' },
      { op: 'Add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Ops' },
      { op: 'Replace', path: 'name.givenName', value: 'Al' },
    ),
  );
  assert.equal(next.active, false);
  assert.deepEqual(next.emails, [{ value: 'a@new.example', type: 'work' }]);
  assert.equal(user.active, true, 'the input draft is not changed');
});

test('Okta style: a replace without a path carries the attributes', () => {
  const next = applyUserPatch(user, ops({ op: 'replace', value: { id: 'ignored', active: false, displayName: 'A.' } }));
  assert.equal(next.active, false);
  assert.equal(next.displayName, 'A.');
});

test('a path with the core schema URN is the attribute; removing displayName falls back to the userName', () => {
  const next = applyUserPatch(user, ops({ op: 'replace', path: `${USER_SCHEMA}:externalId`, value: 'x1' }, { op: 'remove', path: 'displayName' }));
  assert.equal(next.externalId, 'x1');
  assert.equal(next.displayName, 'alice');
});

test('group members: add is a union, a filtered remove takes one, a plain remove with a value takes those named', () => {
  const group = { displayName: 'g', externalId: null, memberIds: ['a'] };
  assert.deepEqual(applyGroupPatch(group, ops({ op: 'add', path: 'members', value: [{ value: 'a' }, { value: 'b' }] })).memberIds, ['a', 'b']);
  const two = { ...group, memberIds: ['a', 'b', 'c'] };
  assert.deepEqual(applyGroupPatch(two, ops({ op: 'remove', path: 'members[value eq "b"]' })).memberIds, ['a', 'c']);
  assert.deepEqual(applyGroupPatch(two, ops({ op: 'remove', path: 'members', value: [{ value: 'a' }, { value: 'c' }] })).memberIds, ['b']);
  assert.deepEqual(applyGroupPatch(two, ops({ op: 'remove', path: 'members' })).memberIds, []);
  assert.deepEqual(applyGroupPatch(two, ops({ op: 'replace', path: 'members', value: [{ value: 'z' }] })).memberIds, ['z']);
});

test('bad operations name their scimType', () => {
  assert.equal(scimType(() => ops({ op: 'move', path: 'active', value: true })), 'invalidSyntax');
  assert.equal(scimType(() => ops({ op: 'remove' })), 'noTarget');
  assert.equal(scimType(() => applyUserPatch(user, ops({ op: 'replace', path: 'id', value: 'x' }))), 'mutability');
  assert.equal(scimType(() => applyUserPatch(user, ops({ op: 'replace', path: 'nope', value: 'x' }))), 'invalidPath');
  assert.equal(scimType(() => applyUserPatch(user, ops({ op: 'replace', path: 'active', value: 'yes' }))), 'invalidValue');
  assert.equal(scimType(() => applyGroupPatch({ displayName: 'g', externalId: null, memberIds: [] }, ops({ op: 'add', path: 'members[value eq "a"]', value: [] }))), 'invalidPath');
});

test('filters: one attribute, eq, a JSON string; anything else is invalidFilter', () => {
  assert.deepEqual(parseEqualityFilter('USERNAME eq "a\\"b"', ['userName'] as const, USER_SCHEMA), { attribute: 'userName', value: 'a"b' });
  assert.deepEqual(parseEqualityFilter(`${USER_SCHEMA}:userName EQ "x"`, ['userName'] as const, USER_SCHEMA), { attribute: 'userName', value: 'x' });
  for (const bad of ['userName ne "x"', 'userName eq "x" and active eq true', 'userName eq x', 'userName pr', 'displayName eq "x"', 'userName eq "x"]']) {
    assert.equal(scimType(() => parseEqualityFilter(bad, ['userName'] as const, USER_SCHEMA)), 'invalidFilter', bad);
  }
});

test('ETags compare weakly; * matches any version; a stale If-Match is refused', () => {
  assert.equal(etagMatches('W/"3"', 3), true);
  assert.equal(etagMatches('"3"', 3), true);
  assert.equal(etagMatches('W/"2", W/"3"', 3), true);
  assert.equal(etagMatches('W/"2"', 3), false);
  assert.equal(etagMatches('*', 7), true);
  assert.equal(requiredVersion(undefined, 3), undefined);
  assert.equal(requiredVersion('*', 3), undefined);
  assert.equal(requiredVersion('W/"3"', 3), 3);
  assert.equal(requiredVersion('W/"2"', 3), false);
});
