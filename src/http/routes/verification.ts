import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceDecisions, PendingRequest } from '../../device-flow/decision.js';
import { formatUserCode, normalizeUserCode } from '../../device-flow/user-code.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Clock } from '../../shared/clock.js';
import { PASSWORD_SIGN_IN, type Authentication, type User, type UserDirectory } from '../../users/user.js';
import type { BrowserSessions, CarriedCode } from '../../verification/browser-session.js';
import type { CodeEntry } from '../../verification/code-entry.js';
import { sameNetwork } from '../../verification/network.js';
import type { Passkeys } from '../../verification/passkeys.js';
import type { SignIn } from '../../verification/sign-in.js';
import type { UpstreamSignIn } from '../../verification/upstream-sign-in.js';
import { readCookie, sessionCookie, setSessionCookie } from '../cookies.js';
import { formOf } from '../form-body.js';
import type { AccountView } from '../pages/account-bar.js';
import { codeHint, renderCodeEntry, renderConfirmCode, typedForDisplay } from '../pages/code-entry.js';
import {
  renderApproved,
  renderDenied,
  renderFormExpired,
  renderMessage,
  renderPolicyRefused,
} from '../pages/message-page.js';
import { html, type SafeHtml } from '../pages/html.js';
import { renderReview } from '../pages/review.js';
import { renderSignIn } from '../pages/sign-in.js';
import { PASSKEY_SCRIPT } from '../pages/passkey-script.js';
import { STYLESHEET } from '../pages/stylesheet.js';
import { requestContext } from '../request-context.js';
import { securePage } from '../security-headers.js';
import { registerPasskeyRoutes } from './passkeys.js';
import { registerUpstreamSignInRoutes } from './upstream-sign-in.js';
import type { Live, SignInPageExtras, VerificationFlow } from './verification-flow.js';

export interface VerificationDeps {
  issuer: string;
  metrics: Metrics;
  sessions: BrowserSessions;
  decisions: DeviceDecisions;
  codeEntry: CodeEntry;
  signIn: SignIn;
  users: UserDirectory;
  clock: Clock;
  /** Whether local accounts exist: without any, the page offers only the upstream providers. */
  localAccounts?: boolean;
  upstream?: UpstreamSignIn;
  passkeys?: Passkeys;
}

const SESSION_MAX_AGE = 3600;
const page = { config: { page: true } };

/**
 * The verification page (RFC 8628 §3.3): sign in, then enter or confirm the code, review, approve or deny.
 * Plain HTML forms; every POST carries a CSRF token bound to the browser session. The routes parse and render;
 * code entry and sign-in, with their limits and audit, are services in src/verification/.
 */
export function registerVerificationRoutes(app: FastifyInstance, deps: VerificationDeps): void {
  const cookie = sessionCookie(deps.issuer);

  /** The browser's session, started (and its cookie set) on first contact. */
  async function session(request: FastifyRequest, reply: FastifyReply): Promise<Live> {
    const found = await deps.sessions.find(readCookie(request, cookie.name));
    if (found) return found;
    return fresh(reply);
  }

  async function fresh(reply: FastifyReply): Promise<Live> {
    const started = await deps.sessions.start();
    setSessionCookie(reply, cookie, started.id, SESSION_MAX_AGE);
    return started;
  }

  function send(reply: FastifyReply, body: string, status = 200, options: { script?: boolean } = {}) {
    return securePage(reply, options).code(status).type('text/html; charset=utf-8').send(body);
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

  async function account(s: Live & { session: { userId: string } }, keep?: AccountView['keep']): Promise<AccountView> {
    const user = await deps.users.find(s.session.userId);
    // Passkeys belong to local accounts (an upstream person's ids hold the provider's name and a colon).
    const passkeys = deps.passkeys !== undefined && !s.session.userId.includes(':') && !keep;
    return { csrf: deps.sessions.csrfToken(s.id), username: user?.displayName ?? s.session.userId, ...(keep ? { keep } : {}), ...(passkeys ? { passkeys } : {}) };
  }

  const localAccounts = deps.localAccounts ?? true;
  const providers = (deps.upstream?.providers() ?? []).map((p) => ({ name: p.name, label: p.label }));

  function signInPage(reply: FastifyReply, s: Live, carried: CarriedCode | undefined, status = 200, extra: SignInPageExtras = {}) {
    const passkeys = localAccounts && deps.passkeys !== undefined;
    return send(
      reply,
      renderSignIn({
        csrf: deps.sessions.csrfToken(s.id),
        ...(carried ? { carry: deps.sessions.sealCode(s.id, carried), code: formatUserCode(carried.code) } : {}),
        ...extra,
        providers,
        passwordForm: localAccounts,
        passkeys,
      }),
      status,
      { script: passkeys },
    );
  }

  /** Every sign-in method ends here: a new session id (a planted one is worthless), then the code in hand. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply, previous: Live, user: User, authentication: Authentication, carried: CarriedCode | undefined, authTime?: number) {
    const next = await deps.sessions.signIn(previous.id, user.id, authentication, authTime);
    setSessionCookie(reply, cookie, next.id, SESSION_MAX_AGE);
    const live = { ...next, session: { ...next.session, userId: user.id } };
    if (!carried) return entryPage(reply, live);
    // A code from the link is confirmed against the device first; one the person typed is checked now.
    if (carried.via === 'link') return confirmPage(reply, live, carried.code);
    return enterCode(request, reply, live, carried.code);
  }

  async function confirmPage(reply: FastifyReply, s: Live & { session: { userId: string } }, code: string) {
    const keep = { name: 'carry' as const, value: deps.sessions.sealCode(s.id, { via: 'link', code }) };
    return send(reply, renderConfirmCode({ account: await account(s, keep), code: formatUserCode(code) }));
  }

  async function entryPage(reply: FastifyReply, s: Live & { session: { userId: string } }, status = 200, extra: { value?: string; error?: string | SafeHtml } = {}) {
    return send(reply, renderCodeEntry({ account: await account(s), ...extra }), status);
  }

  async function review(reply: FastifyReply, request: FastifyRequest, s: Live & { session: { userId: string; authTime: number | null } }, pending: PendingRequest) {
    const user = await deps.users.find(s.session.userId);
    const approver = requestContext(request);
    const signIn = { ...(s.session.authentication ?? PASSWORD_SIGN_IN), at: s.session.authTime ?? deps.clock.now() };
    const outcome = user
      ? await deps.decisions.preview(pending, user, signIn, approver)
      : { refused: 'The signed-in account no longer exists.' };
    return send(
      reply,
      renderReview({
        csrf: deps.sessions.csrfToken(s.id),
        sealed: deps.sessions.sealRequest(s.id, pending.authorization.id),
        request: pending,
        username: user?.displayName ?? s.session.userId,
        approverIp: approver.ip,
        sameNetwork: sameNetwork(pending.authorization.requester.ip, approver.ip),
        now: deps.clock.now(),
        outcome,
      }),
    );
  }

  /** Checks a code for a signed-in person, and renders what came of it. */
  async function enterCode(request: FastifyRequest, reply: FastifyReply, s: Live & { session: { userId: string; authTime: number | null } }, typed: string) {
    const outcome = await deps.codeEntry.enter({ typed, userId: s.session.userId, sessionKey: s.session.idHash, context: requestContext(request) });
    switch (outcome.status) {
      case 'malformed':
        return entryPage(reply, s, 400, { value: typedForDisplay(typed), error: codeHint(typed) });
      case 'limited':
        request.log.warn({ limitedBy: outcome.limitedBy }, 'user code entry rate limited');
        reply.header('retry-after', String(outcome.retryAfter));
        return entryPage(reply, s, 429, { value: formatUserCode(normalizeUserCode(typed) ?? ''), error: tooMany('codes that did not match', outcome.retryAfter) });
      case 'unknown':
        return entryPage(reply, s, 400, { value: formatUserCode(outcome.code), error: 'That code is not valid or has expired. Check your device.' });
      case 'cancelled':
        return send(reply, renderCancelled(), 410);
      case 'found':
        return review(reply, request, s, outcome.pending);
    }
  }

  /** The pending request a sealed form field names, if the seal was made for this session. */
  async function findSealed(sessionId: string, sealed: string | undefined) {
    const id = deps.sessions.openRequest(sessionId, sealed);
    return id === undefined ? undefined : deps.decisions.findPendingById(id);
  }

  app.get('/static/tether.css', (_request, reply) => {
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.get('/static/passkey.js', (_request, reply) => {
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(PASSKEY_SCRIPT);
  });
  app.get('/', (_request, reply) => reply.redirect('/device'));

  const flow: VerificationFlow = {
    session,
    postedSession,
    existingSession: (request) => deps.sessions.find(readCookie(request, cookie.name)),
    send,
    signInPage,
    openCarried: (s, sealed) => deps.sessions.openCode(s.id, sealed ?? undefined),
    signedIn,
    account: (s) => account(s),
  };
  if (deps.upstream) registerUpstreamSignInRoutes(app, flow, { upstream: deps.upstream, issuer: deps.issuer });
  if (deps.passkeys) registerPasskeyRoutes(app, flow, { passkeys: deps.passkeys, users: deps.users, sessions: deps.sessions });

  app.get('/device', page, async (request, reply) => {
    const s = await session(request, reply);
    const query = request.query as Record<string, unknown>;
    const typed = typeof query['user_code'] === 'string' ? query['user_code'] : undefined;
    const code = typed === undefined ? undefined : normalizeUserCode(typed);
    // The code from the link is carried (sealed) through sign-in and shown for the person to compare, not looked
    // up: a GET costs no guess.
    if (!s.session.userId) return signInPage(reply, s, code ? { via: 'link', code } : undefined);
    const signedIn = { ...s, session: { ...s.session, userId: s.session.userId } };
    if (code) return confirmPage(reply, signedIn, code);
    return entryPage(reply, signedIn, 200, typed ? { value: typedForDisplay(typed) } : {});
  });

  app.post('/device', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    const typed = s.params.get('user_code') ?? '';
    // Nobody's code is checked before they sign in: a code typed into an old page rides along to the sign-in.
    if (!s.session.userId) {
      const code = normalizeUserCode(typed);
      return signInPage(reply, s, code ? { via: 'typed', code } : undefined);
    }
    return enterCode(request, reply, { ...s, session: { ...s.session, userId: s.session.userId } }, typed);
  });

  app.post('/device/sign-in', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    // The seal is checked with CSRF, before any password work: a forged form costs no argon2.
    const carried = deps.sessions.openCode(s.id, s.params.get('carry'));
    if (carried === 'invalid') return send(reply, renderFormExpired(), 403);
    const username = (s.params.get('username') ?? '').slice(0, 64);
    const outcome = await deps.signIn.signIn({ username, password: s.params.get('password') ?? '', context: requestContext(request) });
    switch (outcome.status) {
      case 'limited':
      case 'busy': {
        if (outcome.status === 'limited') request.log.warn({ limitedBy: outcome.limitedBy }, 'sign-in rate limited');
        reply.header('retry-after', String(outcome.retryAfter));
        const error = outcome.status === 'busy'
          ? 'Many people are signing in right now. Try again in a moment.'
          : tooMany('sign-in attempts that failed', outcome.retryAfter);
        return signInPage(reply, s, carried, outcome.status === 'busy' ? 503 : 429, { error, username });
      }
      case 'wrong':
        return signInPage(reply, s, carried, 401, { error: 'Wrong username or password.', username });
      case 'signed_in':
        return signedIn(request, reply, s, outcome.user, PASSWORD_SIGN_IN, carried);
    }
  });

  app.post('/device/sign-out', page, async (request, reply) => {
    const s = await postedSession(request, reply);
    if (!s) return reply;
    // Switching account keeps the request in hand: its code rides to the next sign-in, to be confirmed again.
    const pending = await findSealed(s.id, s.params.get('request'));
    const carried = deps.sessions.openCode(s.id, s.params.get('carry'));
    const code = pending?.authorization.userCode ?? (carried && carried !== 'invalid' ? carried.code : undefined);
    await deps.sessions.signOut(s.id);
    const next = await fresh(reply);
    return signInPage(reply, next, code ? { via: 'link', code } : undefined, 200, {
      notice: 'You are signed out. Sign in with the account that should approve this device.',
    });
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
      const signIn = { ...(s.session.authentication ?? PASSWORD_SIGN_IN), at: authTime };
      const outcome = await deps.decisions.approve(pending, user, signIn, approver);
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

/** "Too many X. Wait N seconds": the wait in words a person can act on. */
function tooMany(what: string, retryAfter: number): string {
  const wait = retryAfter < 90 ? `${retryAfter} second${retryAfter === 1 ? '' : 's'}` : `about ${Math.ceil(retryAfter / 60)} minutes`;
  return `Too many ${what}. For your security, wait ${wait} before trying again.`;
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
