// Races: an approved device code yields exactly one access token, and one code gets exactly one decision.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { ExpressionBuilder } from 'kysely';
import { hashSecret } from '../../src/shared/crypto.js';
import type { Database } from '../../src/storage/schema.js';
import { authorize, decide, redeem } from '../support/device-flow.js';
import { FormBrowser } from '../support/browser-form.js';
import { dpopKey } from '../support/dpop.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';

const RACERS = 20;
const ROUNDS = 4;

describe('concurrent redemption', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: ${RACERS} parallel token requests, one token`, async () => {
      const key = await dpopKey();
      const url = `${server.issuer}/device_authorization`;
      const codes = await authorize(server, { client_id: 'tether-cli' }, { DPoP: await key.proof('POST', url) });
      await decide(server, codes.user_code);

      // Every request carries its own valid proof by the same key, so each passes the DPoP checks.
      const replies = await Promise.all(
        Array.from({ length: RACERS }, () => redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, key)),
      );
      const won = replies.filter((r) => r.status === 200);
      const lost = replies.filter((r) => r.status !== 200);
      assert.equal(won.length, 1, `successes: ${won.length}`);
      assert.equal(typeof won[0]?.body['access_token'], 'string');
      for (const reply of lost) {
        assert.equal(reply.status, 400);
        assert.equal(reply.body['error'], 'invalid_grant', JSON.stringify(reply.body));
      }

      // Access tokens are not stored: the issuance is recorded by its event (with the jti) and the refresh token.
      const jti = decodeJwt(String(won[0]?.body['access_token'])).jti ?? '';
      const ofThisCode = (eb: ExpressionBuilder<Database, 'grants'>) =>
        eb.selectFrom('device_authorizations').select('id').where('user_code', '=', codes.user_code.replaceAll('-', ''));
      const issued = await server.tether.db
        .selectFrom('audit_events')
        .innerJoin('grants', 'grants.id', 'audit_events.grant_id')
        .select(['audit_events.jti'])
        .where('audit_events.type', '=', 'token.issued')
        .where('grants.device_authorization_id', 'in', ofThisCode)
        .execute();
      assert.deepEqual(issued, [{ jti }], 'exactly the one returned token is recorded');
      const refreshTokens = await server.tether.db
        .selectFrom('refresh_tokens')
        .innerJoin('grants', 'grants.id', 'refresh_tokens.grant_id')
        .select(['refresh_tokens.hash'])
        .where('grants.device_authorization_id', 'in', ofThisCode)
        .execute();
      assert.deepEqual(refreshTokens, [{ hash: hashSecret(String(won[0]?.body['refresh_token'])) }], 'and only its refresh token');
    });
  }

  it('settles racing decisions on one code: exactly one wins, and the token endpoint agrees', async () => {
    const codes = await authorize(server);
    const people = await Promise.all(
      ['alice', 'bob', 'alice', 'bob'].map(async (username) => {
        const browser = new FormBrowser(server.issuer);
        await browser.get('/device');
        await browser.post('/device', { user_code: codes.user_code });
        const review = await browser.post('/device/sign-in', { user_code: codes.user_code, username, password: TEST_PASSWORD });
        assert.ok(review.includes('action="/device/decision"'));
        return browser;
      }),
    );
    const decisions = ['approve', 'deny', 'approve', 'deny'];
    const pages = await Promise.all(
      people.map((b, i) => b.post('/device/decision', { user_code: codes.user_code, decision: decisions[i] ?? '' })),
    );
    const approved = pages.filter((p) => p.includes('Device approved')).length;
    const denied = pages.filter((p) => p.includes('Request denied')).length;
    assert.equal(approved + denied, 1, `${approved} approvals and ${denied} denials confirmed`);
    assert.equal(people.filter((b) => b.lastStatus === 200).length, 1);
    const reply = await redeem(server, codes.device_code);
    if (approved) assert.equal(reply.status, 200);
    else assert.equal(reply.body['error'], 'access_denied');
  });
});
