import { html, type SafeHtml } from './html.js';

/** The page frame every verification screen shares. */
export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Tether</title>
<link rel="stylesheet" href="/static/tether.css">
</head>
<body>
<header class="brand"><span class="logo" aria-hidden="true">⛓</span> Tether</header>
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
