import { csrfField, layout } from './layout.js';
import { html } from './html.js';

/** Step 2: sign in, carrying the code along. */
export function renderSignIn(opts: { csrf: string; userCode: string; request: string; error?: string; username?: string }): string {
  return layout(
    'Sign in',
    html`<h1>Sign in to continue</h1>
<p>Sign in to review the request from code <strong class="code-inline">${opts.userCode}</strong>.</p>
${opts.error ? html`<p class="error" role="alert" id="sign_in_error">${opts.error}</p>` : ''}
<form method="post" action="/device/sign-in">
  ${csrfField(opts.csrf)}
  <input type="hidden" name="request" value="${opts.request}">
  <label for="username">Username</label>
  <input id="username" name="username" value="${opts.username ?? ''}" autocomplete="username" autocapitalize="none"
    spellcheck="false" required ${opts.error ? '' : html`autofocus`}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required
    ${opts.error ? html`autofocus aria-invalid="true" aria-describedby="sign_in_error"` : ''}>
  <button type="submit" class="primary">Sign in</button>
</form>`,
  );
}
