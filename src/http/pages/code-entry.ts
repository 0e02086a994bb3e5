import { csrfField, layout } from './layout.js';
import { html } from './html.js';

/** Step 1: the person types the code their device shows. */
export function renderCodeEntry(opts: { csrf: string; value?: string; error?: string }): string {
  return layout(
    'Enter your code',
    html`<h1>Connect a device</h1>
<p>Enter the code shown on the device or terminal you are signing in on.</p>
${opts.error ? html`<p class="error" role="alert" id="code_error">${opts.error}</p>` : ''}
<form method="post" action="/device">
  ${csrfField(opts.csrf)}
  <label for="user_code">Code from your device</label>
  <input id="user_code" name="user_code" value="${opts.value ?? ''}" autocomplete="off" autocapitalize="characters"
    spellcheck="false" placeholder="XXXX-XXXX" maxlength="20" required autofocus
    ${opts.error ? html`aria-invalid="true" aria-describedby="code_error"` : ''}>
  <button type="submit" class="primary">Continue</button>
</form>`,
  );
}

/**
 * Arriving through verification_uri_complete, the code is filled in, but the person must still check it against
 * the device (RFC 8628 §3.3.1): a phisher can send that link too.
 */
export function renderConfirmCode(opts: { csrf: string; code: string }): string {
  return layout(
    'Confirm your code',
    html`<h1>Check the code</h1>
<p>Does your device show exactly this code?</p>
<p class="code">${opts.code}</p>
<p class="warning">Only continue if <strong>you</strong> started this sign-in on a device in front of you and it shows this
code. If someone sent you this link, stop here.</p>
<form method="post" action="/device">
  ${csrfField(opts.csrf)}
  <input type="hidden" name="user_code" value="${opts.code}">
  <div class="actions">
    <button type="submit" class="primary">Yes, the codes match</button>
  </div>
</form>
<p><a href="/device">The codes do not match</a></p>`,
  );
}
