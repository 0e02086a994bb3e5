import { html, type SafeHtml } from './html.js';
import { csrfField } from './layout.js';

/** Who is signed in, and the way to switch account. The request in hand (sealed) goes along, so it is kept. */
export interface AccountView {
  csrf: string;
  username: string;
  /** The seal of the device request being reviewed, or of the code carried, if any. */
  keep?: { name: 'request' | 'carry'; value: string };
  /** Link to the passkey list (local accounts, on pages with no request in hand). */
  passkeys?: boolean;
}

/**
 * "Signed in as alice · Switch account": signing out here leads straight to the sign-in form with the same
 * request, so a person who signed in as the wrong account does not have to start the device over.
 */
export function accountBar(view: AccountView): SafeHtml {
  return html`<form method="post" action="/device/sign-out" class="account">
  ${csrfField(view.csrf)}
  ${view.keep ? html`<input type="hidden" name="${view.keep.name}" value="${view.keep.value}">` : ''}
  <span>Signed in as <strong>${view.username}</strong></span>
  <span class="account-actions">${view.passkeys ? html`<a href="/device/passkeys">Passkeys</a>` : ''}
  <button type="submit" class="link">Switch account</button></span>
</form>`;
}
