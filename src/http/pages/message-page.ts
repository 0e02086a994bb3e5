import type { OAuthError } from '../../oauth/errors.js';
import { html, type SafeHtml } from './html.js';
import { layout } from './layout.js';

/** A page with a heading, a message and a way back (whose words fit the page; `null` for none). */
export function renderMessage(
  title: string,
  body: SafeHtml,
  kind: 'ok' | 'stop' | 'info' = 'info',
  back: string | null = 'Enter another code',
): string {
  return layout(title, html`<h1 class="${kind}">${title}</h1>${body}${back ? html`<p><a href="/device">${back}</a></p>` : ''}`);
}

export function renderApproved(clientName: string): string {
  return renderMessage(
    'Device approved',
    html`<p>${clientName} is now signed in. Go back to your device; it continues by itself. You can close this page.</p>`,
    'ok',
  );
}

export function renderDenied(): string {
  return renderMessage(
    'Request denied',
    html`<p>The device was refused and its code no longer works. If you did not start this sign-in, tell your security
team: someone may have tried to trick you.</p>`,
    'stop',
  );
}

/** Approve was pressed, and policy refused: the reason in the policy's words, and what happened to the request. */
export function renderPolicyRefused(reason: string): string {
  return renderMessage(
    'Refused by policy',
    html`<p>Your organisation's policy does not allow this approval:</p>
<p><strong>${reason}</strong></p>
<p>The request was denied and its code no longer works. Once the reason is dealt with, start the sign-in again on
the device to get a new code.</p>`,
    'stop',
  );
}

export function renderFormExpired(): string {
  return renderMessage(
    'This form has expired',
    html`<p>The page was open too long or came from somewhere else. Start again from the beginning.</p>`,
    'stop',
    'Start again',
  );
}

/** An error page that says what it can without exposing anything internal. */
export function renderErrorPage(error: OAuthError | undefined): string {
  if (!error) return renderMessage('Page not found', html`<p>There is nothing here.</p>`, 'stop', 'Go to code entry');
  if (error.status >= 500) {
    return renderMessage('Something went wrong', html`<p>Please try again in a moment.</p>`, 'stop', 'Start again');
  }
  return renderMessage('That did not work', html`<p>The request could not be understood. Please start again.</p>`, 'stop', 'Start again');
}
