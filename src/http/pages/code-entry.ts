import { USER_CODE_LENGTH } from '../../device-flow/user-code.js';
import { accountBar, type AccountView } from './account-bar.js';
import { csrfField, layout } from './layout.js';
import { html } from './html.js';

const PLACEHOLDER = 'XXXX-XXXX-XXXX';
/** Room for the code with dashes and a few stray spaces; anything longer cannot be a code. */
const MAX_TYPED = USER_CODE_LENGTH + 12;

/** Step 2, signed in: the person types the code their device shows. */
export function renderCodeEntry(opts: { account: AccountView; value?: string; error?: string }): string {
  return layout(
    'Enter your code',
    html`${accountBar(opts.account)}
<h1>Connect a device</h1>
<p>Enter the code shown on the device or terminal you are signing in on.</p>
${opts.error ? html`<p class="error" role="alert" id="code_error">${opts.error}</p>` : ''}
<form method="post" action="/device">
  ${csrfField(opts.account.csrf)}
  <label for="user_code">Code from your device</label>
  <input id="user_code" name="user_code" value="${opts.value ?? ''}" autocomplete="off" autocapitalize="characters"
    spellcheck="false" placeholder="${PLACEHOLDER}" maxlength="${MAX_TYPED}" required autofocus
    ${opts.error ? html`aria-invalid="true" aria-describedby="code_error"` : ''}>
  <button type="submit" class="primary">Continue</button>
</form>`,
  );
}

/** Cuts what was typed to the field's length before showing it again. */
export function typedForDisplay(typed: string): string {
  return typed.slice(0, MAX_TYPED);
}

/**
 * Arriving through verification_uri_complete, the code is filled in, but the person, now signed in, must still
 * check it against the device (RFC 8628 §3.3.1): a phisher can send that link too.
 */
export function renderConfirmCode(opts: { account: AccountView; code: string }): string {
  return layout(
    'Confirm your code',
    html`${accountBar(opts.account)}
<h1>Check the code</h1>
<p>Does your device show exactly this code?</p>
<p class="code">${opts.code}</p>
<p class="warning">Only continue if <strong>you</strong> started this sign-in on a device in front of you and it shows this
code. If someone sent you this link, stop here.</p>
<form method="post" action="/device">
  ${csrfField(opts.account.csrf)}
  <input type="hidden" name="user_code" value="${opts.code}">
  <div class="actions">
    <button type="submit" class="primary">Yes, the codes match</button>
  </div>
</form>
<p><a href="/device">The codes do not match</a></p>`,
  );
}
