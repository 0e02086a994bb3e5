import { USER_CODE_ALPHABET, USER_CODE_LENGTH, userCodeProblem } from '../../device-flow/user-code.js';
import { accountBar, type AccountView } from './account-bar.js';
import { csrfField, layout } from './layout.js';
import { html, type SafeHtml } from './html.js';

const PLACEHOLDER = 'XXXX-XXXX-XXXX';
/** Room for the code with dashes and a few stray spaces; anything longer cannot be a code. */
const MAX_TYPED = USER_CODE_LENGTH + 12;

/** Step 2, signed in: the person types the code their device shows. */
export function renderCodeEntry(opts: { account: AccountView; value?: string; error?: string | SafeHtml }): string {
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

/**
 * The hint for input that cannot be a code: what was wrong with it, then which letters codes use (RFC 8628 §6.1's
 * alphabet has no vowels, so a typed ABCD-EFGH has the right length and still cannot be one).
 */
export function codeHint(typed: string): SafeHtml {
  const problem = userCodeProblem(typed);
  const what =
    problem?.kind === 'letters'
      ? html`Codes never use ${problem.unused.slice(0, 6).map((ch, i) => html`${i > 0 ? ', ' : ''}<span class="code-inline">${ch === ' ' ? '␣' : ch}</span>`)}. `
      : problem?.kind === 'length'
        ? html`That is ${problem.letters} letter${problem.letters === 1 ? '' : 's'}; a code has ${USER_CODE_LENGTH}. `
        : '';
  return html`${what}A code is ${USER_CODE_LENGTH} letters in groups of 4, like <span class="code-inline nowrap">BCDF-GHJK-LMNP</span>,
using only <span class="code-inline letters">${USER_CODE_ALPHABET}</span> (no vowels, no digits).`;
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
