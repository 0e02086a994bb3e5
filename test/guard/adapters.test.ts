import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { tetherGuard as expressGuard, identityOf as expressIdentity } from '../../src/guard/adapters/express.js';
import { tetherGuard as fastifyGuard, identityOf as fastifyIdentity } from '../../src/guard/adapters/fastify.js';
import { withGuard } from '../../src/guard/adapters/node-http.js';
import { DpopNonces } from '../../src/dpop/nonce.js';
import { Guard, type GuardOptions } from '../../src/guard/guard.js';
import { RemoteJwks } from '../../src/guard/keys.js';
import type { RequestContext } from '../../src/guard/policy.js';
import { RevocationStream } from '../../src/guard/revocation-stream.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { listen, memoryLogger, oidcClient, oidcLogin, refusalOf, type OidcSession } from './support.js';

/**
 * The thin adapters with real frameworks: Express and Fastify apps (and a bare Node server) guarded by the same
 * core, with request-time policy, called by openid-client with DPoP.
 */
describe('adapters: Express, Fastify and Node http', () => {
  let server: TestServer;
  let stream: RevocationStream;
  let config: client.Configuration;
  let session: OidcSession;
  let guardOptions: GuardOptions;
  const servers: Server[] = [];
  let fastify: FastifyInstance;
  const decided: RequestContext[] = [];
  const logger = memoryLogger();

  const get = (s: OidcSession, url: string, method = 'GET') =>
    client.fetchProtectedResource(config, s.accessToken, new URL(url), method, undefined, undefined, { DPoP: s.dpop });

  before(async () => {
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
    const keys = new RemoteJwks({ url: `${server.issuer}/jwks`, logger });
    stream = new RevocationStream({ issuer: server.issuer, clientId: 'api-gateway', clientSecret: GATEWAY_SECRET, keys, logger });
    guardOptions = {
      issuer: server.issuer,
      audience: server.api,
      keys,
      revocations: stream,
      logger,
      policy: {
        // Stands in for Cedar: refuses /admin, and says its decisions hold for a minute.
        authorize: (_identity, context) => {
          decided.push(context);
          const deny = context.path.includes('/admin');
          return { decision: deny ? 'deny' : 'allow', reason: deny ? 'Admins only.' : 'baseline', cacheableUntil: context.now + 60 };
        },
      },
    };
    config = await oidcClient(server);
    [session] = await Promise.all([oidcLogin(server, config, { scope: 'read write' }), stream.ready(5_000)]);
  });

  after(async () => {
    await stream.close();
    await fastify?.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await server.close();
  });

  test('Express: identity for the handler, refusals with challenges, full path in htu behind a mounted router', async () => {
    const guard = new Guard(guardOptions);
    const app = express();
    app.get('/me', expressGuard(guard), (req, res) => {
      res.json({ sub: expressIdentity(req)?.sub, local: (res.locals['tether'] as { clientId: string }).clientId });
    });
    app.get('/admin/panel', expressGuard(guard), (_req, res) => res.json({ secret: true }));
    app.post('/orders', expressGuard(guard, { scopes: ['admin'] }), (_req, res) => res.json({ ok: true }));
    const v1 = express.Router();
    v1.get('/items/:id', expressGuard(guard), (req, res) => res.json({ id: req.params['id'] }));
    app.use('/v1', v1);
    const http = createServer(app);
    servers.push(http);
    const base = `http://127.0.0.1:${await listen(http)}`;

    const me = await get(session, `${base}/me`);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { sub: 'alice', local: 'tether-cli' });
    assert.equal((await get(session, `${base}/v1/items/3`)).status, 200);
    assert.equal(decided.at(-1)?.route, '/v1/items/:id', 'policy sees the route template');

    const denied = await refusalOf(get(session, `${base}/admin/panel`));
    assert.deepEqual([denied.status, denied.body['error'], denied.body['error_description']], [403, 'insufficient_scope', 'Admins only.']);
    assert.deepEqual([denied.params['error'], denied.params['error_description']], ['insufficient_scope', 'Admins only.'], 'and in the challenge');
    const scope = await refusalOf(get(session, `${base}/orders`, 'POST'));
    assert.deepEqual([scope.status, scope.params['error'], scope.params['scope']], [403, 'insufficient_scope', 'admin']);
    const bearer = await refusalOf(client.fetchProtectedResource(config, session.accessToken, new URL(`${base}/me`), 'GET'));
    assert.deepEqual([bearer.status, bearer.params['error']], [401, 'invalid_token']);
  });

  test('Fastify: preHandler hook, same answers', async () => {
    const guard = new Guard(guardOptions);
    fastify = Fastify();
    fastify.get('/me', { preHandler: fastifyGuard(guard) }, async (request) => ({ sub: fastifyIdentity(request)?.sub }));
    fastify.get('/orders/:id', { preHandler: fastifyGuard(guard) }, async () => ({ ok: true }));
    fastify.get('/admin', { preHandler: fastifyGuard(guard) }, async () => ({ secret: true }));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const address = fastify.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    const me = await get(session, `${base}/me`);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { sub: 'alice' });
    assert.equal((await get(session, `${base}/orders/9?x=1`)).status, 200);
    assert.equal(decided.at(-1)?.route, '/orders/:id');
    const denied = await refusalOf(get(session, `${base}/admin`));
    assert.deepEqual([denied.status, denied.body['error']], [403, 'insufficient_scope']);
    const stranger = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const wrongKey = await refusalOf(get({ ...session, dpop: stranger }, `${base}/me`));
    assert.deepEqual([wrongKey.status, wrongKey.params['error']], [401, 'invalid_dpop_proof']);
  });

  test('Node http with server nonces: openid-client retries with the nonce it is given (RFC 9449 §9)', async () => {
    const guard = new Guard({ ...guardOptions, nonces: new DpopNonces(() => Date.now() / 1000) });
    const http = createServer(withGuard(guard, (_req, res, identity) => res.end(JSON.stringify({ sub: identity.sub }))));
    servers.push(http);
    const base = `http://127.0.0.1:${await listen(http)}`;
    const seen: number[] = [];
    const watching = await oidcClient(server);
    watching[client.customFetch] = async (url, options) => {
      const response = await fetch(url, options);
      seen.push(response.status);
      return response;
    };
    const response = await client.fetchProtectedResource(watching, session.accessToken, new URL(`${base}/me`), 'GET', undefined, undefined, { DPoP: session.dpop });
    assert.equal(response.status, 200);
    assert.deepEqual(seen, [401, 200], 'one use_dpop_nonce, then accepted');
  });
});
