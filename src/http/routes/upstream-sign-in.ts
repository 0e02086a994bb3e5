import type { FastifyInstance } from 'fastify';
import type { UpstreamFailure, UpstreamSignIn } from '../../verification/upstream-sign-in.js';
import { html } from '../pages/html.js';
import { renderMessage } from '../pages/message-page.js';
import { requestContext } from '../request-context.js';
import type { VerificationFlow } from './verification-flow.js';

const page = { config: { page: true } };

/** What the person reads when an upstream sign-in did not work, and the status that goes with it. */
const FAILURES: Record<UpstreamFailure, { status: number; text: (label: string) => string }> = {
  bad_state: {
    status: 400,
    text: () => 'That sign-in link was already used, has expired or was started in another browser. Sign in again from this page.',
  },
  provider_refused: { status: 403, text: (label) => `${label} did not sign you in. Try again, or ask your administrator for access.` },
  rejected: {
    status: 400,
    text: (label) => `The answer from ${label} could not be verified, so you were not signed in. Try again; if it keeps happening, tell your administrator.`,
  },
  email_unverified: { status: 403, text: (label) => `${label} did not confirm your email address. Verify it there, then sign in again.` },
  domain_not_allowed: { status: 403, text: () => 'Your email address is not in a domain allowed to sign in here. Use your work account.' },
  missing_claim: { status: 400, text: (label) => `${label} did not send a username for you. Ask your administrator to check the sign-in setup.` },
  provider_down: { status: 502, text: (label) => `${label} cannot be reached right now. Try again in a few minutes, or sign in another way.` },
};

/**
 * Sign-in through an upstream OpenID provider: `/device/upstream/<name>` starts it (a plain link from the sign-in
 * page, carrying the sealed code) and redirects to the provider; `/device/callback/<name>` is the redirect URI
 * registered there. A GET may start a ceremony without CSRF: it signs nobody in, and its state works only in the
 * browser that started it.
 */
export function registerUpstreamSignInRoutes(app: FastifyInstance, flow: VerificationFlow, deps: { upstream: UpstreamSignIn; issuer: string }): void {
  app.get('/device/upstream/:name', page, async (request, reply) => {
    const s = await flow.session(request, reply);
    const { name } = request.params as { name: string };
    const query = request.query as Record<string, unknown>;
    const sealed = typeof query['carry'] === 'string' ? query['carry'] : undefined;
    const carried = flow.openCarried(s, sealed);
    if (carried === 'invalid') return flow.signInPage(reply, s, undefined, 400, { error: 'That link is no longer valid. Sign in again from this page.' });
    const started = await deps.upstream.start(name, s.id, sealed);
    if (started.status === 'unknown_provider') return flow.send(reply, unknownProvider(), 404);
    if (started.status === 'provider_down') {
      request.log.warn({ provider: name }, 'upstream provider unreachable (discovery)');
      return flow.signInPage(reply, s, carried, 502, { error: FAILURES.provider_down.text(started.provider.label) });
    }
    return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(started.url, 303);
  });

  app.get('/device/callback/:name', page, async (request, reply) => {
    const { name } = request.params as { name: string };
    const before = await flow.existingSession(request);
    // The URL the provider sent the browser to, as registered (the issuer's origin, not the Host header).
    const callback = new URL(request.url, deps.issuer);
    const outcome = await deps.upstream.finish(name, before?.id, callback, requestContext(request));
    if (outcome.status === 'unknown_provider') return flow.send(reply, unknownProvider(), 404);
    const s = before ?? (await flow.session(request, reply));
    const opened = outcome.carry ? flow.openCarried(s, outcome.carry) : undefined;
    const carried = opened === 'invalid' ? undefined : opened;
    if (outcome.status === 'signed_in') {
      request.log.info({ provider: name, user: outcome.user.id }, 'signed in through upstream provider');
      return flow.signedIn(request, reply, s, outcome.user, outcome.authentication, carried, outcome.authTime);
    }
    request.log.warn({ provider: name, reason: outcome.status }, 'upstream sign-in refused');
    const failure = FAILURES[outcome.status];
    return flow.signInPage(reply, s, carried, failure.status, { error: failure.text(outcome.provider.label) });
  });
}

function unknownProvider(): string {
  return renderMessage('Unknown sign-in provider', html`<p>This server has no sign-in provider by that name.</p>`, 'stop', 'Back to sign-in');
}
