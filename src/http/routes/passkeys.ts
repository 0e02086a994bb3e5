import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { UserDirectory } from '../../users/user.js';
import type { BrowserSessions } from '../../verification/browser-session.js';
import type { Passkeys } from '../../verification/passkeys.js';
import type { FormParams } from '../../oauth/form-params.js';
import { formOf } from '../form-body.js';
import { renderFormExpired } from '../pages/message-page.js';
import { renderPasskeys } from '../pages/passkeys.js';
import { requestContext } from '../request-context.js';
import type { Live, VerificationFlow } from './verification-flow.js';

const page = { config: { page: true } };
/** A WebAuthn response is a few kilobytes; anything much larger is not one. */
const MAX_CREDENTIAL = 16_384;

/**
 * Passkeys: options for the script (JSON, CSRF-checked), passwordless sign-in from the sign-in page, and the list
 * page `/device/passkeys` where a signed-in local account adds and removes its passkeys.
 */
export function registerPasskeyRoutes(
  app: FastifyInstance,
  flow: VerificationFlow,
  deps: { passkeys: Passkeys; users: UserDirectory; sessions: BrowserSessions },
): void {
  function json(reply: FastifyReply, status: number, body: unknown) {
    return reply.code(status).header('cache-control', 'no-store').type('application/json').send(body);
  }

  /** A CSRF-checked POST from the script: the session, or a JSON 403 (never a page: nobody reads it). */
  async function scriptSession(request: FastifyRequest) {
    const s = await flow.existingSession(request);
    return s && deps.sessions.checkCsrf(s.id, formOf(request.body).get('csrf')) ? s : undefined;
  }

  function credentialOf(params: FormParams): unknown {
    const raw = params.get('credential') ?? '';
    if (raw === '' || raw.length > MAX_CREDENTIAL) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }

  async function listPage(reply: FastifyReply, s: Live & { session: { userId: string } }, status = 200, extra: { notice?: string; error?: string } = {}) {
    const local = !s.session.userId.includes(':');
    const passkeys = local ? await deps.passkeys.list(s.session.userId) : [];
    const method = s.session.authentication?.method ?? 'pwd';
    return flow.send(
      reply,
      renderPasskeys({
        // No link to this very page in the account bar.
        account: { ...(await flow.account(s)), passkeys: false },
        passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt, synced: p.backedUp })),
        canAdd: local,
        ...(method.startsWith('upstream:') ? { provider: method.slice('upstream:'.length) } : {}),
        ...extra,
      }),
      status,
      { script: local },
    );
  }

  app.post('/device/passkey/options', async (request, reply) => {
    const s = await scriptSession(request);
    if (!s) return json(reply, 403, { error: 'invalid_request', error_description: 'The page has expired; reload it.' });
    return json(reply, 200, await deps.passkeys.signInOptions(s.id));
  });

  app.post('/device/passkey/sign-in', page, async (request, reply) => {
    const s = await flow.postedSession(request, reply);
    if (!s) return reply;
    const carried = flow.openCarried(s, s.params.get('carry'));
    if (carried === 'invalid') return flow.send(reply, renderFormExpired(), 403);
    const outcome = await deps.passkeys.signIn(s.id, credentialOf(s.params), requestContext(request));
    if (outcome.status === 'refused') {
      return flow.signInPage(reply, s, carried, 401, { error: 'That passkey could not sign you in. Try again, or use your password.' });
    }
    return flow.signedIn(request, reply, s, outcome.user, outcome.authentication, carried);
  });

  app.get('/device/passkeys', page, async (request, reply) => {
    const s = await flow.session(request, reply);
    if (!s.session.userId) return flow.signInPage(reply, s, undefined, 200, { notice: 'Sign in to manage your passkeys.' });
    return listPage(reply, { ...s, session: { ...s.session, userId: s.session.userId } });
  });

  app.post('/device/passkeys/options', async (request, reply) => {
    const s = await scriptSession(request);
    const user = s?.session.userId && !s.session.userId.includes(':') ? await deps.users.find(s.session.userId) : undefined;
    if (!s || !user) return json(reply, 403, { error: 'invalid_request', error_description: 'Sign in with your password first.' });
    return json(reply, 200, await deps.passkeys.registrationOptions(s.id, user));
  });

  app.post('/device/passkeys/register', page, async (request, reply) => {
    const s = await flow.postedSession(request, reply);
    if (!s) return reply;
    const userId = s.session.userId;
    const user = userId && !userId.includes(':') ? await deps.users.find(userId) : undefined;
    if (!userId || !user) return flow.send(reply, renderFormExpired(), 403);
    const live = { ...s, session: { ...s.session, userId } };
    const result = await deps.passkeys.register(s.id, user, credentialOf(s.params), s.params.get('name') ?? '', requestContext(request));
    if (result === 'registered') return listPage(reply, live, 200, { notice: 'Passkey added. Next time, sign in with it instead of your password.' });
    if (result === 'too_many') return listPage(reply, live, 400, { error: 'You have the most passkeys an account may hold. Remove one first.' });
    return listPage(reply, live, 400, { error: 'The passkey could not be added. Try again.' });
  });

  app.post('/device/passkeys/remove', page, async (request, reply) => {
    const s = await flow.postedSession(request, reply);
    if (!s) return reply;
    const userId = s.session.userId;
    const user = userId ? await deps.users.find(userId) : undefined;
    if (!userId || !user) return flow.send(reply, renderFormExpired(), 403);
    const removed = await deps.passkeys.remove(user, s.params.get('id') ?? '', requestContext(request));
    const live = { ...s, session: { ...s.session, userId } };
    return removed ? listPage(reply, live, 200, { notice: 'Passkey removed.' }) : listPage(reply, live, 404, { error: 'That passkey was not found.' });
  });
}
