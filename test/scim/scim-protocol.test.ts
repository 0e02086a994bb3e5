import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../support/in-process.js';
import { ERROR_URN, GROUP_URN, LIST_URN, PATCH_URN, SCIM_TOKEN_HASH, ScimClient, USER_URN, type ScimReply } from './scim-client.js';

/** A SCIM error as RFC 7644 §3.12 shapes it, with the SCIM media type, and never a server error. */
function assertScimError(reply: ScimReply, status: number, scimType?: string): void {
  assert.equal(reply.status, status, reply.text);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(reply.body?.['schemas'], [ERROR_URN]);
  assert.equal(reply.body?.['status'], String(status));
  assert.equal(reply.body?.['scimType'], scimType);
  assert.equal(typeof reply.body?.['detail'], 'string');
  assert.doesNotMatch(reply.text, /at .*\.(ts|js):\d+/, 'no stack trace');
}

describe('SCIM 2.0 at /scim/v2 (RFC 7643/7644)', () => {
  let server: TestServer;
  let scim: ScimClient;

  before(async () => {
    server = await startServer({ scim: { bearer_token_hashes: [SCIM_TOKEN_HASH] } });
    scim = new ScimClient(server.issuer);
  });
  after(() => server.close());

  describe('bearer-token authentication', () => {
    test('no token, a wrong token, or another scheme: 401 with a SCIM error and a Bearer challenge', async () => {
      for (const client of [new ScimClient(server.issuer, null), new ScimClient(server.issuer, 'not-the-token')]) {
        for (const [method, path] of [
          ['GET', '/Users'],
          ['GET', '/ServiceProviderConfig'],
          ['DELETE', '/Users/alice'],
        ] as const) {
          const reply = await client.request(method, path);
          assertScimError(reply, 401);
          assert.match(reply.headers.get('www-authenticate') ?? '', /^Bearer/);
        }
      }
      // The configured hash itself is not a token.
      assertScimError(await new ScimClient(server.issuer, SCIM_TOKEN_HASH).request('GET', '/Users'), 401);
      const basic = await fetch(`${server.issuer}/scim/v2/Users`, { headers: { authorization: 'Basic c2NpbTpzY2lt' } });
      assert.equal(basic.status, 401);
    });

    test('the refused call changed nothing', async () => {
      const reply = await new ScimClient(server.issuer, 'wrong').createUser('mallory');
      assertScimError(reply, 401);
      assert.equal(await scim.findUser('mallory'), undefined);
    });

    test('a server without configured tokens refuses every SCIM call', async () => {
      const bare = await startServer();
      try {
        assertScimError(await new ScimClient(bare.issuer).request('GET', '/Users'), 401);
      } finally {
        await bare.close();
      }
    });
  });

  test('ServiceProviderConfig, ResourceTypes and Schemas describe what is supported', async () => {
    const config = await scim.request('GET', '/ServiceProviderConfig');
    assert.equal(config.status, 200);
    assert.match(config.headers.get('content-type') ?? '', /^application\/scim\+json/);
    assert.deepEqual(config.body?.['schemas'], ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    assert.deepEqual(config.body?.['patch'], { supported: true });
    assert.deepEqual(config.body?.['etag'], { supported: true });
    assert.equal((config.body?.['bulk'] as Record<string, unknown>)['supported'], false);
    assert.equal((config.body?.['authenticationSchemes'] as Record<string, unknown>[])[0]?.['type'], 'oauthbearertoken');

    const types = await scim.request('GET', '/ResourceTypes');
    assert.deepEqual(types.body?.['schemas'], [LIST_URN]);
    const listed = (types.body?.['Resources'] as Record<string, unknown>[]).map((t) => [t['id'], t['endpoint'], t['schema']]);
    assert.deepEqual(listed, [
      ['User', '/Users', USER_URN],
      ['Group', '/Groups', GROUP_URN],
    ]);
    assert.equal((await scim.request('GET', '/ResourceTypes/User')).body?.['schema'], USER_URN);

    const schemas = await scim.request('GET', '/Schemas');
    const user = (schemas.body?.['Resources'] as Record<string, unknown>[]).find((s) => s['id'] === USER_URN);
    const userName = (user?.['attributes'] as Record<string, unknown>[]).find((a) => a['name'] === 'userName');
    assert.equal(userName?.['required'], true);
    assert.equal(userName?.['uniqueness'], 'server');
    assert.equal((await scim.request('GET', `/Schemas/${GROUP_URN}`)).body?.['id'], GROUP_URN);
    assertScimError(await scim.request('GET', '/Schemas/urn:nope'), 404);
  });

  test('create: 201 with Location, ETag and the stored User; a second userName (any case) is a uniqueness conflict', async () => {
    const reply = await scim.createUser('Carol.Danvers', {
      externalId: 'okta-00u1',
      name: { givenName: 'Carol', familyName: 'Danvers' },
      emails: [{ value: 'carol@example.com', type: 'work', primary: true }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Air' },
    });
    assert.equal(reply.status, 201, reply.text);
    assert.match(reply.headers.get('content-type') ?? '', /^application\/scim\+json/);
    const body = reply.body as Record<string, unknown>;
    const id = String(body['id']);
    const meta = body['meta'] as Record<string, unknown>;
    assert.equal(reply.headers.get('location'), `${server.issuer}/scim/v2/Users/${id}`);
    assert.equal(meta['location'], reply.headers.get('location'));
    assert.equal(meta['resourceType'], 'User');
    assert.equal(reply.headers.get('etag'), meta['version']);
    assert.match(String(meta['version']), /^W\/"\d+"$/);
    assert.equal(body['userName'], 'carol.danvers', 'stored canonical');
    assert.equal(body['displayName'], 'Carol Danvers');
    assert.equal(body['active'], true);
    assert.equal(body['externalId'], 'okta-00u1');
    assert.deepEqual(body['emails'], [{ value: 'carol@example.com', type: 'work', primary: true }]);
    assert.deepEqual(body['schemas'], [USER_URN]);

    assertScimError(await scim.createUser('CAROL.DANVERS'), 409, 'uniqueness');
    // A configured local account is in the directory too: its name is taken.
    assertScimError(await scim.createUser('alice'), 409, 'uniqueness');
  });

  test('read by id, 404 for an unknown one; If-None-Match gives 304 until the resource changes', async () => {
    const created = await scim.createUser('dave');
    const id = String(created.body?.['id']);
    const read = await scim.request('GET', `/Users/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body?.['userName'], 'dave');
    const etag = read.headers.get('etag') ?? '';
    assert.equal(etag, created.headers.get('etag'));

    const unchanged = await scim.request('GET', `/Users/${id}`, undefined, { 'if-none-match': etag });
    assert.equal(unchanged.status, 304);
    assert.equal(unchanged.text, '');
    await scim.patch(`/Users/${id}`, [{ op: 'replace', path: 'displayName', value: 'Dave L.' }]);
    const changed = await scim.request('GET', `/Users/${id}`, undefined, { 'if-none-match': etag });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get('etag'), etag);
    assert.equal(changed.body?.['displayName'], 'Dave L.');

    assertScimError(await scim.request('GET', '/Users/no-such-id'), 404);
    assertScimError(await scim.request('GET', '/Nope'), 404);
  });

  test('list: filters on userName (case-insensitively) and externalId, pages with startIndex and count', async () => {
    for (const name of ['erin', 'frank', 'grace']) await scim.createUser(name, { externalId: `ext-${name}` });
    const byName = await scim.request('GET', `/Users?filter=${encodeURIComponent('userName eq "ERIN"')}`);
    assert.equal(byName.status, 200);
    assert.deepEqual(byName.body?.['schemas'], [LIST_URN]);
    assert.equal(byName.body?.['totalResults'], 1);
    assert.equal(byName.body?.['startIndex'], 1);
    assert.equal(byName.body?.['itemsPerPage'], 1);
    assert.equal((byName.body?.['Resources'] as Record<string, unknown>[])[0]?.['userName'], 'erin');

    const byExternal = await scim.request('GET', `/Users?filter=${encodeURIComponent(`${USER_URN}:externalId eq "ext-frank"`)}`);
    assert.deepEqual((byExternal.body?.['Resources'] as Record<string, unknown>[]).map((u) => u['userName']), ['frank']);
    const none = await scim.request('GET', `/Users?filter=${encodeURIComponent('userName eq "nobody"')}`);
    assert.equal(none.body?.['totalResults'], 0);
    assert.deepEqual(none.body?.['Resources'], []);

    const all = await scim.request('GET', '/Users');
    const total = Number(all.body?.['totalResults']);
    assert.ok(total >= 5);
    const page = await scim.request('GET', '/Users?startIndex=2&count=2');
    assert.equal(page.body?.['totalResults'], total);
    assert.equal(page.body?.['startIndex'], 2);
    assert.equal(page.body?.['itemsPerPage'], 2);
    const ids = (r: ScimReply) => (r.body?.['Resources'] as Record<string, unknown>[]).map((u) => u['id']);
    assert.deepEqual(ids(page), ids(all).slice(1, 3));
    assert.equal((await scim.request('GET', '/Users?count=0')).body?.['itemsPerPage'], 0);

    for (const filter of ['userName sw "e"', 'userName eq "a" or userName eq "b"', 'emails eq "x"', 'userName eq erin', 'userName', 'title eq "x"']) {
      assertScimError(await scim.request('GET', `/Users?filter=${encodeURIComponent(filter)}`), 400, 'invalidFilter');
    }
    assertScimError(await scim.request('GET', '/Users?startIndex=abc'), 400, 'invalidValue');
  });

  test('PATCH and PUT, conditional on If-Match: a stale ETag is 412 and changes nothing', async () => {
    const created = await scim.createUser('heidi');
    const id = String(created.body?.['id']);
    const first = created.headers.get('etag') ?? '';
    const patched = await scim.patch(
      `/Users/${id}`,
      [
        { op: 'Replace', path: 'displayName', value: 'Heidi H.' },
        { op: 'add', path: 'emails', value: [{ value: 'heidi@example.com', type: 'work' }] },
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'heidi@corp.example' },
      ],
      { 'if-match': first },
    );
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body?.['displayName'], 'Heidi H.');
    assert.deepEqual(patched.body?.['emails'], [{ value: 'heidi@corp.example', type: 'work' }]);
    const second = patched.headers.get('etag') ?? '';
    assert.notEqual(second, first);

    assertScimError(await scim.patch(`/Users/${id}`, [{ op: 'replace', path: 'displayName', value: 'Stale' }], { 'if-match': first }), 412);
    assertScimError(await scim.request('PUT', `/Users/${id}`, { schemas: [USER_URN], userName: 'heidi', displayName: 'Stale' }, { 'if-match': first }), 412);
    assertScimError(await scim.request('DELETE', `/Users/${id}`, undefined, { 'if-match': first }), 412);
    assert.equal((await scim.request('GET', `/Users/${id}`)).body?.['displayName'], 'Heidi H.', 'nothing changed');

    const replaced = await scim.request('PUT', `/Users/${id}`, { schemas: [USER_URN], userName: 'heidi', displayName: 'Heidi' }, { 'if-match': second });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body?.['displayName'], 'Heidi');
    assert.deepEqual(replaced.body?.['emails'], [], 'PUT replaces: what is not sent is gone');
    // `active` left out of a PUT keeps its value: a profile sync neither reactivates nor offboards.
    await scim.patch(`/Users/${id}`, [{ op: 'replace', path: 'active', value: false }]);
    const synced = await scim.request('PUT', `/Users/${id}`, { schemas: [USER_URN], userName: 'heidi', displayName: 'Heidi' });
    assert.equal(synced.body?.['active'], false);
    const reactivated = await scim.request('PUT', `/Users/${id}`, { schemas: [USER_URN], userName: 'heidi', displayName: 'Heidi', active: true });
    assert.equal(reactivated.body?.['active'], true);
    const star = await scim.patch(`/Users/${id}`, [{ op: 'remove', path: 'emails' }], { 'if-match': '*' });
    assert.equal(star.body?.['active'], true);
    assert.equal(star.status, 200);

    const gone = await scim.request('DELETE', `/Users/${id}`, undefined, { 'if-match': star.headers.get('etag') ?? '' });
    assert.equal(gone.status, 204);
    assert.equal(gone.text, '');
    assertScimError(await scim.request('GET', `/Users/${id}`), 404);
    assertScimError(await scim.request('DELETE', `/Users/${id}`), 404);
  });

  test('Groups: create with members, filter by displayName, PATCH members in and out; the user sees their groups', async () => {
    const ivan = String((await scim.createUser('ivan')).body?.['id']);
    const judy = String((await scim.createUser('judy')).body?.['id']);
    const created = await scim.request('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'SRE', externalId: 'grp-1', members: [{ value: ivan }] });
    assert.equal(created.status, 201, created.text);
    const groupId = String(created.body?.['id']);
    assert.equal(created.headers.get('location'), `${server.issuer}/scim/v2/Groups/${groupId}`);
    assert.deepEqual((created.body?.['members'] as Record<string, unknown>[]).map((m) => [m['value'], m['display']]), [[ivan, 'ivan']]);
    assertScimError(await scim.request('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'sre' }), 409, 'uniqueness');

    const byName = await scim.request('GET', `/Groups?filter=${encodeURIComponent('displayName eq "sre"')}`);
    assert.deepEqual((byName.body?.['Resources'] as Record<string, unknown>[]).map((g) => g['id']), [groupId]);
    assertScimError(await scim.request('GET', `/Groups?filter=${encodeURIComponent('members eq "x"')}`), 400, 'invalidFilter');

    const ivanRead = await scim.request('GET', `/Users/${ivan}`);
    assert.deepEqual((ivanRead.body?.['groups'] as Record<string, unknown>[]).map((g) => [g['value'], g['display']]), [[groupId, 'SRE']]);

    const added = await scim.patch(`/Groups/${groupId}`, [{ op: 'add', path: 'members', value: [{ value: judy }] }]);
    assert.equal(added.status, 200, added.text);
    assert.deepEqual((added.body?.['members'] as Record<string, unknown>[]).map((m) => m['display']), ['ivan', 'judy']);
    const removed = await scim.patch(`/Groups/${groupId}`, [{ op: 'remove', path: `members[value eq "${ivan}"]` }], { 'if-match': added.headers.get('etag') ?? '' });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual((removed.body?.['members'] as Record<string, unknown>[]).map((m) => m['display']), ['judy']);
    assert.deepEqual((await scim.request('GET', `/Users/${ivan}`)).body?.['groups'], []);
    // Okta's rename: a replace without a path, repeating the id.
    const renamed = await scim.patch(`/Groups/${groupId}`, [{ op: 'replace', value: { id: groupId, displayName: 'Site Reliability' } }]);
    assert.equal(renamed.body?.['displayName'], 'Site Reliability');
    assert.equal(((await scim.request('GET', `/Users/${judy}`)).body?.['groups'] as Record<string, unknown>[])[0]?.['display'], 'Site Reliability');

    const lean = await scim.request('GET', `/Groups/${groupId}?excludedAttributes=members`);
    assert.equal(lean.body?.['members'], undefined);
    assert.equal(lean.body?.['displayName'], 'Site Reliability');
    const etag = lean.headers.get('etag') ?? '';
    assert.equal((await scim.request('GET', `/Groups/${groupId}`, undefined, { 'if-none-match': etag })).status, 304);

    assert.equal((await scim.request('DELETE', `/Groups/${groupId}`)).status, 204);
    assertScimError(await scim.request('GET', `/Groups/${groupId}`), 404);
    assert.deepEqual((await scim.request('GET', `/Users/${judy}`)).body?.['groups'], []);
  });

  test('concurrent membership PATCHes without If-Match all land; application/json with a charset is SCIM too', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await scim.request('POST', '/Users', { schemas: [USER_URN], userName: `racer${i}` }, { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(reply.status, 201, reply.text);
      ids.push(String(reply.body?.['id']));
    }
    const group = await scim.request('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'racers' });
    const groupId = String(group.body?.['id']);
    const replies = await Promise.all(ids.map((id) => scim.patch(`/Groups/${groupId}`, [{ op: 'add', path: 'members', value: [{ value: id }] }])));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200]);
    const members = ((await scim.request('GET', `/Groups/${groupId}`)).body?.['members'] as Record<string, unknown>[]).map((m) => m['value']);
    assert.deepEqual([...members].sort(), [...ids].sort());
  });

  test('a SCIM body may be larger than an OAuth form (up to 256 KiB)', async () => {
    const id = String((await scim.createUser('bulky')).body?.['id']);
    const operations = Array.from({ length: 100 }, (_, i) => ({ op: 'replace', path: 'displayName', value: `${i} ${'x'.repeat(240)}` }));
    assert.ok(JSON.stringify(operations).length > 20 * 1024);
    const reply = await scim.patch(`/Users/${id}`, operations);
    assert.equal(reply.status, 200, reply.text.slice(0, 200));
    assert.match(String(reply.body?.['displayName']), /^99 x+$/);
  });

  describe('a body that is not valid SCIM gets a SCIM error, never a 500', () => {
    let id: string;
    let groupId: string;
    before(async () => {
      id = String((await scim.createUser('mallory-target')).body?.['id']);
      groupId = String((await scim.request('POST', '/Groups', { schemas: [GROUP_URN], displayName: 'bad-input' })).body?.['id']);
    });

    const cases: { name: string; method: string; path: () => string; body: unknown; headers?: Record<string, string>; status?: number; scimType?: string }[] = [
      { name: 'not JSON', method: 'POST', path: () => '/Users', body: '{"schemas": [', scimType: 'invalidSyntax' },
      { name: 'an empty body', method: 'POST', path: () => '/Users', body: '', scimType: 'invalidSyntax' },
      { name: 'a JSON array', method: 'POST', path: () => '/Users', body: [{ userName: 'x' }], scimType: 'invalidSyntax' },
      { name: 'a JSON string', method: 'POST', path: () => '/Users', body: '"hello"', scimType: 'invalidSyntax' },
      { name: 'no schemas', method: 'POST', path: () => '/Users', body: { userName: 'x' }, scimType: 'invalidSyntax' },
      { name: 'the wrong schema', method: 'POST', path: () => '/Users', body: { schemas: [GROUP_URN], userName: 'x' }, scimType: 'invalidSyntax' },
      { name: 'schemas not a list', method: 'POST', path: () => '/Users', body: { schemas: USER_URN, userName: 'x' }, scimType: 'invalidSyntax' },
      { name: 'no userName', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN] }, scimType: 'invalidValue' },
      { name: 'a numeric userName', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 42 }, scimType: 'invalidValue' },
      { name: 'a huge userName', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'x'.repeat(5000) }, scimType: 'invalidValue' },
      { name: 'active as a number', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'y', active: 1 }, scimType: 'invalidValue' },
      { name: 'emails as a string', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'y', emails: 'a@b' }, scimType: 'invalidValue' },
      { name: 'an email without value', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'y', emails: [{ type: 'work' }] }, scimType: 'invalidValue' },
      { name: 'an unknown attribute', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'y', isAdmin: true }, scimType: 'invalidValue' },
      { name: 'a form body', method: 'POST', path: () => '/Users', body: 'userName=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, scimType: 'invalidSyntax' },
      { name: 'a body too large', method: 'POST', path: () => '/Users', body: { schemas: [USER_URN], userName: 'z', pad: 'x'.repeat(300 * 1024) }, status: 413 },
      { name: 'PUT without userName', method: 'PUT', path: () => `/Users/${id}`, body: { schemas: [USER_URN] }, scimType: 'invalidValue' },
      { name: 'PATCH without PatchOp schema', method: 'PATCH', path: () => `/Users/${id}`, body: { schemas: [USER_URN], Operations: [] }, scimType: 'invalidSyntax' },
      { name: 'PATCH with no operations', method: 'PATCH', path: () => `/Users/${id}`, body: { schemas: [PATCH_URN], Operations: [] }, scimType: 'invalidSyntax' },
      { name: 'PATCH Operations not a list', method: 'PATCH', path: () => `/Users/${id}`, body: { schemas: [PATCH_URN], Operations: { op: 'add' } }, scimType: 'invalidSyntax' },
      { name: 'an unknown op', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'explode', path: 'active', value: false }), scimType: 'invalidSyntax' },
      { name: 'remove without a path', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'remove' }), scimType: 'noTarget' },
      { name: 'replace without a value', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'active' }), scimType: 'invalidValue' },
      { name: 'a path to nothing', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'isAdmin', value: true }), scimType: 'invalidPath' },
      { name: 'a malformed path', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'emails[type', value: 'x' }), scimType: 'invalidPath' },
      { name: 'a path of another schema', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'urn:example:evil:active', value: true }), scimType: 'invalidPath' },
      { name: 'changing the id', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'id', value: 'alice' }), scimType: 'mutability' },
      { name: "writing a user's groups", method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'add', path: 'groups', value: [{ value: 'g' }] }), scimType: 'mutability' },
      { name: 'active as "maybe"', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', path: 'active', value: 'maybe' }), scimType: 'invalidValue' },
      { name: 'removing active', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'remove', path: 'active' }), scimType: 'invalidValue' },
      { name: 'a pathless value that is not an object', method: 'PATCH', path: () => `/Users/${id}`, body: patchOf({ op: 'replace', value: false }), scimType: 'invalidValue' },
      { name: 'a group without displayName', method: 'POST', path: () => '/Groups', body: { schemas: [GROUP_URN] }, scimType: 'invalidValue' },
      { name: 'a nested group member', method: 'POST', path: () => '/Groups', body: { schemas: [GROUP_URN], displayName: 'n', members: [{ value: 'x', type: 'Group' }] }, scimType: 'invalidValue' },
      { name: 'an unknown member', method: 'PATCH', path: () => `/Groups/${groupId}`, body: patchOf({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }), scimType: 'invalidValue' },
      { name: 'a member without value', method: 'PATCH', path: () => `/Groups/${groupId}`, body: patchOf({ op: 'add', path: 'members', value: [{ display: 'x' }] }), scimType: 'invalidValue' },
      { name: 'a members filter on display', method: 'PATCH', path: () => `/Groups/${groupId}`, body: patchOf({ op: 'remove', path: 'members[display eq "x"]' }), scimType: 'invalidPath' },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const reply = await scim.request(c.method, c.path(), c.body, c.headers);
        assertScimError(reply, c.status ?? 400, c.scimType);
      });
    }

    test('after all of them the user and the group are as they were', async () => {
      const user = await scim.request('GET', `/Users/${id}`);
      assert.equal(user.body?.['active'], true);
      assert.equal(user.body?.['userName'], 'mallory-target');
      assert.match(user.headers.get('etag') ?? '', /^W\/"1"$/);
      assert.deepEqual((await scim.request('GET', `/Groups/${groupId}`)).body?.['members'], []);
      assert.ok(!server.logs.some((l) => /"level":50/.test(l)), 'no request failed on the server');
    });
  });
});

function patchOf(operation: Record<string, unknown>) {
  return { schemas: [PATCH_URN], Operations: [operation] };
}
