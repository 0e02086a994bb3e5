import type { FastifyInstance } from 'fastify';
import type { DpopVerifier } from '../../dpop/proof.js';
import { ownSessionStatus, type OwnSessionDeps } from '../../introspection/own-session.js';
import { InvalidRequest } from '../../oauth/errors.js';
import type { Clock } from '../../shared/clock.js';
import { noStore } from '../oauth-reply.js';
import { dpopHeader } from '../request-context.js';

/**
 * `GET /session` with `Authorization: DPoP <access token>` and a DPoP proof (with `ath`): `{"active":true,
 * "expires_at":…}` while the caller's grant lives, `{"active":false}` once it was revoked or ended.
 */
export function registerOwnSessionRoute(app: FastifyInstance, deps: OwnSessionDeps & { issuer: string; dpop: DpopVerifier; clock: Clock }): void {
  const htu = `${deps.issuer}/session`;
  app.get('/session', async (request, reply) => {
    const match = /^DPoP ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '');
    const proof = dpopHeader(request);
    if (!match || !proof) {
      reply.header('www-authenticate', 'DPoP error="invalid_request"');
      throw new InvalidRequest('Send the access token as Authorization: DPoP, with a DPoP proof.');
    }
    const token = match[1] as string;
    const now = deps.clock.now();
    const verified = await deps.dpop.verify(proof, { htm: 'GET', htu, now, accessToken: token });
    return noStore(reply).send(await ownSessionStatus(deps, token, verified.jkt, now));
  });
}
