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
}

/**
 * Step 1: sign in, before any code is checked, so every guess at a code is charged to an account. A code from the
 * link rides along sealed, and is confirmed after signing in.
 */
export function renderSignIn(view: SignInView): string {
  return layout(
    'Sign in',
    html`<h1>Sign in to connect a device</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.code
  ? html`<p>Sign in first. Then you will check the code <strong class="code-inline">${view.code}</strong> against your device.</p>`
  : html`<p>Sign in first. Then you will enter the code your device shows.</p>`}
${view.error ? html`<p class="error" role="alert" id="sign_in_error">${view.error}</p>` : ''}
<form method="post" action="/device/sign-in">
  ${csrfField(view.csrf)}
  ${view.carry ? html`<input type="hidden" name="carry" value="${view.carry}">` : ''}
  <label for="username">Username</label>
  <input id="username" name="username" value="${view.username ?? ''}" autocomplete="username" autocapitalize="none"
    spellcheck="false" required ${view.error ? '' : html`autofocus`}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required
    ${view.error ? html`autofocus aria-invalid="true" aria-describedby="sign_in_error"` : ''}>
  <button type="submit" class="primary">Sign in</button>
</form>`,
  );
}
