import { html, type SafeHtml } from './html.js';

/**
 * Two chain links, drawn inline: the "⛓" character it replaces is missing from many fonts and showed as an empty
 * box. Presentation attributes only (the CSP forbids inline style), no request of its own.
 */
const LOGO = html`<svg class="logo" aria-hidden="true" focusable="false" width="22" height="22" viewBox="0 0 24 24" fill="none"
  stroke="currentColor" stroke-width="2.4" stroke-linecap="round"><rect x="2" y="8" width="12" height="8" rx="4"/>
  <rect x="10" y="8" width="12" height="8" rx="4"/></svg>`;

/**
 * The page frame every verification screen shares. `script` adds the passkey script (a static file of our own
 * origin, /static/passkey.js); only the pages that offer passkeys load it, and each works without it.
 */
export function layout(title: string, body: SafeHtml, options: { script?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Tether</title>
<link rel="stylesheet" href="/static/tether.css">
${options.script ? html`<script src="/static/passkey.js" defer></script>` : ''}
</head>
<body>
<header class="brand">${LOGO} Tether</header>
<main class="card">
${body}
</main>
<footer>Never enter a code that someone else sent you. Tether will never ask you to.</footer>
</body>
</html>`.value;
}

/** Hidden CSRF field for every form. */
export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}
