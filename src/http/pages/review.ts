import type { PendingRequest } from '../../device-flow/decision.js';
import { formatUserCode } from '../../device-flow/user-code.js';
import { accountBar } from './account-bar.js';
import { html } from './html.js';
import { csrfField, layout } from './layout.js';

export interface ReviewView {
  csrf: string;
  /** The seal tying this request to the browser session (see BrowserSessions.sealRequest). */
  sealed: string;
  request: PendingRequest;
  username: string;
  approverIp: string;
  sameNetwork: boolean;
  now: number;
  /**
   * What approving would grant, as policy decides it now: the scopes after narrowing, or the reason policy would
   * refuse. The decision itself is taken again when Approve is pressed.
   */
  outcome: { scopes: readonly string[] } | { refused: string };
}

/**
 * Step 3: the review screen, where device-code phishing is stopped. It says in plain words who asks for what,
 * from where and when, and puts a loud warning first when the device is not on the person's own network.
 * Approve and Deny stay equally prominent: the warning, not a styled button, is what should make a person stop.
 */
export function renderReview(view: ReviewView): string {
  const { authorization, client, resource } = view.request;
  const code = formatUserCode(authorization.userCode);
  const granted = 'scopes' in view.outcome ? new Set(view.outcome.scopes) : new Set<string>();
  const withheld = authorization.scopes.filter((s) => !granted.has(s));
  return layout(
    'Review the request',
    html`${accountBar({ csrf: view.csrf, username: view.username, keep: { name: 'request', value: view.sealed } })}
<h1>Allow ${client.name} to act as you?</h1>
${view.sameNetwork
  ? ''
  : html`<div class="alarm" role="alert">
  <h2>⚠ This request came from a different network</h2>
  <p>The device asked from <strong>${authorization.requester.ip}</strong>; you are on <strong>${view.approverIp}</strong>.
  If you did not start this sign-in yourself on a device in front of you, someone may be trying to trick you into
  giving them access. <strong>Deny it.</strong></p>
</div>`}
<dl class="facts">
  <dt>Application</dt><dd>${client.name} <span class="muted">(${client.id})</span></dd>
  <dt>Access to</dt><dd>${resource.name} <span class="muted">${resource.uri}</span></dd>
  <dt>Permissions</dt><dd>${'refused' in view.outcome
    ? html`<p class="error">Policy will refuse this approval: ${view.outcome.refused}</p>`
    : html`<ul class="scopes">${[...granted].map((s) => html`<li><code>${s}</code></li>`)}</ul>
    ${withheld.length > 0
      ? html`<p class="muted withheld-note">Asked for, but not granted by your organisation's policy:
      ${withheld.map((s, i) => html`${i > 0 ? ', ' : ''}<code class="withheld">${s}</code>`)}</p>`
      : ''}`}</dd>
  <dt>Requested</dt><dd>${ago(view.now - authorization.createdAt)} from <strong>${authorization.requester.ip}</strong></dd>
  <dt>Device software</dt><dd><code class="ua">${authorization.requester.userAgent || 'not stated'}</code></dd>
  <dt>Code</dt><dd><span class="code-inline">${code}</span></dd>
</dl>
<p class="warning">Approve only if you started this yourself, just now, and the device shows <strong>${code}</strong>.</p>
<form method="post" action="/device/decision" class="decision">
  ${csrfField(view.csrf)}
  <input type="hidden" name="request" value="${view.sealed}">
  <button type="submit" name="decision" value="approve" class="approve">Approve</button>
  <button type="submit" name="decision" value="deny" class="deny">Deny</button>
</form>`,
  );
}

function ago(seconds: number): string {
  if (seconds < 10) return 'just now';
  if (seconds < 90) return `${seconds} seconds ago`;
  const minutes = Math.round(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
}
