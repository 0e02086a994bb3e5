import { csrfField, layout } from './layout.js';
import { html } from './html.js';

export interface SignInView {
  csrf: string;
  /** The sealed user code carried through sign-in (BrowserSessions.sealCode), if the person came with one. */
  carry?: string;
  /** The carried code as shown, for the person to recognise. */
  code?: string;
  error?: string;
  /** Said above the form, such as "signed out" after switching account. */
  notice?: string;
  username?: string;
  /** Upstream providers, one "Sign in with <label>" button each. */
  providers?: readonly { name: string; label: string }[];
  /** The password form: only when local accounts exist (a tenant may have only upstream sign-in). */
  passwordForm?: boolean;
  /** The passkey button (shown by /static/passkey.js when the browser has WebAuthn). */
  passkeys?: boolean;
}

/**
 * Step 1: sign in, before any code is checked, so every guess at a code is charged to an account. A code from the
 * link rides along sealed, and is confirmed after signing in.
 */
export function renderSignIn(view: SignInView): string {
  const providers = view.providers ?? [];
  const password = view.passwordForm ?? true;
  const carryQuery = view.carry ? `?carry=${encodeURIComponent(view.carry)}` : '';
  return layout(
    'Sign in',
    html`<h1>Sign in to connect a device</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.code
  ? html`<p>Sign in first. Then you will check the code <strong class="code-inline">${view.code}</strong> against your device.</p>`
  : html`<p>Sign in first. Then you will enter the code your device shows.</p>`}
${view.error ? html`<p class="error" role="alert" id="sign_in_error">${view.error}</p>` : ''}
${providers.length > 0
  ? html`<div class="sign-in-choices">${providers.map(
      (p) => html`<a class="button upstream" href="${`/device/upstream/${p.name}${carryQuery}`}">Sign in with ${p.label}</a>`,
    )}</div>`
  : ''}
${password && view.passkeys
  ? html`<div class="passkey-choice" id="passkey_choice" hidden>
  <button type="button" class="secondary" id="passkey_sign_in" data-options="/device/passkey/options" data-csrf="${view.csrf}">Sign in with a passkey</button>
  <p class="error" role="alert" id="passkey_error" hidden></p>
</div>
<form method="post" action="/device/passkey/sign-in" id="passkey_form" hidden>
  ${csrfField(view.csrf)}
  ${view.carry ? html`<input type="hidden" name="carry" value="${view.carry}">` : ''}
  <input type="hidden" name="credential" id="passkey_credential">
</form>`
  : ''}
${password && providers.length > 0 ? html`<p class="divider"><span>or with your Tether password</span></p>` : ''}
${password
  ? html`<form method="post" action="/device/sign-in">
  ${csrfField(view.csrf)}
  ${view.carry ? html`<input type="hidden" name="carry" value="${view.carry}">` : ''}
  <label for="username">Username</label>
  <input id="username" name="username" value="${view.username ?? ''}" autocomplete="username" autocapitalize="none"
    spellcheck="false" required ${view.error ? '' : html`autofocus`}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required
    ${view.error ? html`autofocus aria-invalid="true" aria-describedby="sign_in_error"` : ''}>
  <button type="submit" class="primary">Sign in</button>
</form>`
  : ''}`,
    { script: password && view.passkeys === true },
  );
}
