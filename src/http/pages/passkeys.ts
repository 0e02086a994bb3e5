import { accountBar, type AccountView } from './account-bar.js';
import { html } from './html.js';
import { csrfField, layout } from './layout.js';

export interface PasskeyRow {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  synced: boolean;
}

export interface PasskeysView {
  account: AccountView;
  passkeys: readonly PasskeyRow[];
  /** Local accounts may add passkeys; an upstream account's sign-in belongs to its provider. */
  canAdd: boolean;
  provider?: string;
  notice?: string;
  error?: string;
}

function day(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
}

/**
 * The person's passkeys: each with when it was added and last used, and a Remove button (a plain form); adding one
 * needs WebAuthn, so that part is shown by /static/passkey.js and the rest works without it.
 */
export function renderPasskeys(view: PasskeysView): string {
  const { csrf } = view.account;
  return layout(
    'Passkeys',
    html`${accountBar(view.account)}
<h1>Your passkeys</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${view.canAdd
  ? html`<p>A passkey signs you in with your device's screen lock or a security key instead of your password. It only
works on this site, so a look-alike page cannot use it, and sensitive approvals may require one.</p>`
  : html`<p>You signed in with ${view.provider ?? 'your organisation'}. Passkeys for that account are managed there.</p>`}
${view.passkeys.length === 0
  ? html`<p class="muted">No passkeys yet.</p>`
  : html`<ul class="passkeys">${view.passkeys.map(
      (p) => html`<li>
  <div><strong>${p.name}</strong><br><span class="muted">Added ${day(p.createdAt)} · ${p.lastUsedAt === null ? 'never used' : html`last used ${day(p.lastUsedAt)}`}${p.synced ? ' · synced' : ''}</span></div>
  <form method="post" action="/device/passkeys/remove">
    ${csrfField(csrf)}
    <input type="hidden" name="id" value="${p.id}">
    <button type="submit" class="remove" aria-label="${`Remove ${p.name}`}">Remove</button>
  </form>
</li>`,
    )}</ul>`}
${view.canAdd
  ? html`<div id="passkey_add" hidden>
  <form method="post" action="/device/passkeys/register" id="passkey_register_form">
    ${csrfField(csrf)}
    <input type="hidden" name="credential" id="passkey_credential">
    <label for="passkey_name">Name for the new passkey</label>
    <input id="passkey_name" name="name" maxlength="60" placeholder="for example: Work laptop" autocomplete="off">
    <button type="button" class="primary" id="passkey_create" data-options="/device/passkeys/options" data-csrf="${csrf}">Add a passkey</button>
  </form>
  <p class="error" role="alert" id="passkey_error" hidden></p>
</div>
<noscript><p class="muted">Adding a passkey needs JavaScript. Everything else on this page works without it.</p></noscript>`
  : ''}
<p><a href="/device">Back to connecting a device</a></p>`,
    { script: view.canAdd },
  );
}
