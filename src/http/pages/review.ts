import type { PendingRequest } from '../../device-flow/decision.js';
import { formatUserCode } from '../../device-flow/user-code.js';
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
}

/**
 * Step 3: the review screen, where device-code phishing is stopped. It says in plain words who asks for what,
 * from where and when, and puts a loud warning first when the device is not on the person's own network.
 * Approve and Deny stay equally prominent: the warning, not a styled button, is what should make a person stop.
 */
export function renderReview(view: ReviewView): string {
  const { authorization, client, resource } = view.request;
  const code = formatUserCode(authorization.userCode);
  return layout(
    'Review the request',
    html`<h1>Allow ${client.name} to act as you?</h1>
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
  <dt>Permissions</dt><dd><ul class="scopes">${authorization.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul></dd>
  <dt>Requested</dt><dd>${ago(view.now - authorization.createdAt)} from <strong>${authorization.requester.ip}</strong></dd>
  <dt>Device software</dt><dd><code class="ua">${authorization.requester.userAgent || 'not stated'}</code></dd>
  <dt>Code</dt><dd><span class="code-inline">${code}</span></dd>
  <dt>Signed in as</dt><dd>${view.username}</dd>
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
