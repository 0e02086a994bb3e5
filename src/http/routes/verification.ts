import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceDecisions, PendingRequest } from '../../device-flow/decision.js';
import { formatUserCode, normalizeUserCode } from '../../device-flow/user-code.js';
import type { AuditLog } from '../../audit/event.js';
import type { Metrics } from '../../observability/metrics.js';
import { hashSecret } from '../../shared/crypto.js';
import type { Clock } from '../../shared/clock.js';
import type { UserDirectory } from '../../users/user.js';
import type { BrowserSessions } from '../../verification/browser-session.js';
import type { CodeEntryLimiter } from '../../verification/code-entry-limiter.js';
import { sameNetwork } from '../../verification/network.js';
import { readCookie, sessionCookie, setSessionCookie } from '../cookies.js';
import { formOf } from '../form-body.js';
import { renderCodeEntry, renderConfirmCode } from '../pages/code-entry.js';
import {
  renderApproved,
  renderDenied,
  renderFormExpired,
  renderMessage,
  renderPolicyRefused,
  renderRateLimited,
} from '../pages/message-page.js';
import { html } from '../pages/html.js';
import { renderReview } from '../pages/review.js';
import { renderSignIn } from '../pages/sign-in.js';
import { STYLESHEET } from '../pages/stylesheet.js';
import { requestContext } from '../request-context.js';
import { securePage } from '../security-headers.js';

export interface VerificationDeps {
  issuer: string;
  metrics: Metrics;
  audit: AuditLog;
  sessions: BrowserSessions;
  decisions: DeviceDecisions;
  limiter: CodeEntryLimiter;
  users: UserDirectory;
  clock: Clock;
}

const SESSION_MAX_AGE = 3600;
const page = { config: { page: true } };

/**
 * The verification page (RFC 8628 §3.3): enter or confirm the code, sign in, review, approve or deny.
 * Plain HTML forms; every POST carries a CSRF token bound to the browser session.
 */
export function registerVerificationRoutes(app: FastifyInstance, deps: VerificationDeps): void {
  const cookie = sessionCookie(deps.issuer);

  /** The browser's session, started (and its cookie set) on first contact. */
  async function session(request: FastifyRequest, reply: FastifyReply) {
    const found = await deps.sessions.find(readCookie(request, cookie.name));
    if (found) return found;
    const started = await deps.sessions.start();
    setSessionCookie(reply, cookie, started.id, SESSION_MAX_AGE);
    return started;
  }

  function send(reply: FastifyReply, body: string, status = 200) {
    return securePage(reply).code(status).type('text/html; charset=utf-8').send(body);
  }

  /** A POST from our own form in this browser, or none at all. */
  async function postedSession(request: FastifyRequest, reply: FastifyReply) {
    const found = await deps.sessions.find(readCookie(request, cookie.name));
    const params = formOf(request.body);
    if (!found || !deps.sessions.checkCsrf(found.id, params.get('csrf'))) {
      send(reply, renderFormExpired(), 403);
      return undefined;
    }
    return { ...found, params };
  }

  async function review(reply: FastifyReply, request: FastifyRequest, s: { id: string; userId: string }, pending: PendingRequest) {
    const user = await deps.users.find(s.userId);
    const approverIp = requestContext(request).ip;
    return send(
      reply,
      renderReview({
        csrf: deps.sessions.csrfToken(s.id),
        sealed: deps.sessions.sealRequest(s.id, pending.authorization.id),
        request: pending,
        username: user?.displayName ?? s.userId,
        approverIp,
        sameNetwork: sameNetwork(pending.authorization.requester.ip, approverIp),
        now: deps.clock.now(),
      }),
    );
  }

  /** The pending request a sealed form field names, if the seal was made for this session. */
  async function findSealed(sessionId: string, sealed: string | undefined) {
    const id = deps.sessions.openRequest(sessionId, sealed);
    return id === undefined ? undefined : deps.decisions.findPendingById(id);
  }

  app.get('/static/tether.css', (_request, reply) => {
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.get('/', (_request, reply) => reply.redirect('/device'));

  app.get('/device', page, async (request, reply) => {
    const s = await session(request, reply);
    const csrf = deps.sessions.csrfToken(s.id);
    const query = request.query as Record<string, unknown>;
    const typed = typeof query['user_code'] === 'string' ? query['user_code'] : undefined;
    const code = typed === undefined ? undefined : normalizeUserCode(typed);
    // The code from the link is shown for the person to compare, not looked up: a GET costs no guess.
    if (code) return send(reply, renderConfirmCode({ csrf, code: formatUserCode(code) }));
    return send(reply, renderCodeEntry({ csrf, value: typed?.slice(0, 20) }));
  });

  app.post('/device', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    const csrf = deps.sessions.csrfToken(s.id);
    const typed = s.params.get('user_code') ?? '';
    const code = normalizeUserCode(typed);
    if (!code) {
      // Not code-shaped: it cannot match anything, so it costs no guess.
      return send(reply, renderCodeEntry({ csrf, value: typed.slice(0, 20), error: 'A code is 8 letters, like BCDF-GHJK.' }), 400);
    }
    const context = requestContext(request);
    const ip = context.ip;
    const entered = { at: deps.clock.now(), data: { ip, user_agent: context.userAgent, user_code_hash: hashSecret(code) } };
    const refusal = deps.limiter.check(ip, s.session.idHash, await deps.decisions.countLive());
    if (refusal) {
      request.log.warn({ limitedBy: refusal.limitedBy }, 'user code entry rate limited');
      await deps.audit.record([{ ...entered, type: 'user_code.rejected', data: { ...entered.data, reason: `rate_limited_${refusal.limitedBy}` } }]);
      deps.metrics.codeEntryFailures.inc({ reason: `rate_limited_${refusal.limitedBy}` });
      reply.header('retry-after', String(refusal.retryAfter));
      return send(reply, renderRateLimited(refusal.retryAfter), 429);
    }
    const pending = await deps.decisions.findPending(code);
    if (!pending && (await deps.decisions.wasAbandoned({ userCode: code }))) return send(reply, renderCancelled(), 410);
    if (!pending) {
      deps.limiter.recordFailure(ip, s.session.idHash);
      await deps.audit.record([{ ...entered, type: 'user_code.rejected', data: { ...entered.data, reason: 'no_such_code' } }]);
      deps.metrics.codeEntryFailures.inc({ reason: 'no_such_code' });
      return send(
        reply,
        renderCodeEntry({ csrf, value: formatUserCode(code), error: 'That code is not valid or has expired. Check your device.' }),
        400,
      );
    }
    await deps.audit.record([
      {
        ...entered,
        type: 'user_code.entered',
        userId: s.session.userId,
        clientId: pending.client.id,
        deviceAuthorizationId: pending.authorization.id,
        parent: { type: 'device_code.requested', deviceAuthorizationId: pending.authorization.id },
      },
    ]);
    if (!s.session.userId) {
      const sealed = deps.sessions.sealRequest(s.id, pending.authorization.id);
      return send(reply, renderSignIn({ csrf, userCode: formatUserCode(code), request: sealed }));
    }
    return review(reply, request, { id: s.id, userId: s.session.userId }, pending);
  });

  app.post('/device/sign-in', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    // The request comes sealed to this session by the code-entry step, never as a code to look up again.
    const sealed = s.params.get('request');
    const pending = await findSealed(s.id, sealed);
    const username = s.params.get('username') ?? '';
    const user = await deps.users.authenticate(username.slice(0, 64), (s.params.get('password') ?? '').slice(0, 1024));
    const context = requestContext(request);
    await deps.audit.record([
      user
        ? { type: 'user.signed_in', at: deps.clock.now(), userId: user.id, data: { ip: context.ip, user_agent: context.userAgent, method: 'pwd' } }
        : { type: 'user.sign_in_failed', at: deps.clock.now(), data: { ip: context.ip, user_agent: context.userAgent, username: username.slice(0, 64) } },
    ]);
    if (!pending) return send(reply, renderExpired(), 410);
    if (!user) {
      return send(
        reply,
        renderSignIn({
          csrf: deps.sessions.csrfToken(s.id),
          userCode: formatUserCode(pending.authorization.userCode),
          request: sealed ?? '',
          username: username.slice(0, 64),
          error: 'Wrong username or password.',
        }),
        401,
      );
    }
    const signedIn = await deps.sessions.signIn(s.id, user.id, 'pwd');
    setSessionCookie(reply, cookie, signedIn.id, SESSION_MAX_AGE);
    return review(reply, request, { id: signedIn.id, userId: user.id }, pending);
  });

  app.post('/device/decision', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    const decision = s.params.get('decision');
    const { userId, authTime } = s.session;
    if (!userId || authTime === null) return send(reply, renderFormExpired(), 403);
    const user = await deps.users.find(userId);
    const sealedId = deps.sessions.openRequest(s.id, s.params.get('request'));
    const pending = await findSealed(s.id, s.params.get('request'));
    if (!pending && sealedId !== undefined && (await deps.decisions.wasAbandoned({ id: sealedId }))) return send(reply, renderCancelled(), 410);
    if (!user || !pending) return send(reply, renderExpired(), 410);
    const approver = requestContext(request);
    if (decision === 'approve') {
      const outcome = await deps.decisions.approve(pending, user, authTime, approver);
      if (outcome.status === 'gone') {
        return send(reply, (await deps.decisions.wasAbandoned({ id: pending.authorization.id })) ? renderCancelled() : renderExpired(), 410);
      }
      if (outcome.status === 'refused') {
        request.log.info({ client: pending.client.id, user: user.id }, 'approval refused by policy; request denied');
        deps.metrics.decisions.inc({ decision: 'policy_refused' });
        return send(reply, renderPolicyRefused(outcome.message), 403);
      }
      const grantId = outcome.grantId;
      request.log.info({ grant: grantId, client: pending.client.id, user: user.id }, 'device approved');
      deps.metrics.decisions.inc({ decision: 'approve' });
      return send(reply, renderApproved(pending.client.name));
    }
    if (decision === 'deny') {
      if (!(await deps.decisions.deny(pending, user, approver))) return send(reply, renderExpired(), 410);
      request.log.info({ client: pending.client.id, user: user.id }, 'device denied');
      deps.metrics.decisions.inc({ decision: 'deny' });
      return send(reply, renderDenied());
    }
    return send(reply, renderFormExpired(), 400);
  });
}

function renderExpired(): string {
  return renderMessage(
    'This request is no longer waiting',
    html`<p>The code expired or was already used. Start the sign-in again on your device to get a new code.</p>`,
    'stop',
  );
}

/** The device gave up on the request (its person cancelled the login there): nothing is left to approve. */
function renderCancelled(): string {
  return renderMessage(
    'This request was cancelled',
    html`<p>The sign-in was cancelled on the device that asked for it, so it can no longer be approved. Nothing was
      granted. If you still want to sign in, start again on your device to get a new code.</p>`,
    'stop',
  );
}
