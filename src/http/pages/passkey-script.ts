/**
 * /static/passkey.js: the only script Tether serves. WebAuthn has no HTML form, so this small file asks the server
 * for options, calls navigator.credentials, and posts the result in an ordinary form. It is a static file from our
 * own origin (CSP `script-src 'self'`), and only shows the passkey buttons when the browser can use them: without
 * it, password sign-in and every other page work as before.
 */
export const PASSKEY_SCRIPT = `'use strict';
(function () {
  function b64urlToBytes(s) {
    var pad = s.length % 4 === 0 ? '' : '===='.slice(s.length % 4);
    var bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + pad);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function bytesToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function creationOptions(o) {
    var p = Object.assign({}, o, { challenge: b64urlToBytes(o.challenge), user: Object.assign({}, o.user, { id: b64urlToBytes(o.user.id) }) });
    p.excludeCredentials = (o.excludeCredentials || []).map(function (c) { return Object.assign({}, c, { id: b64urlToBytes(c.id) }); });
    return p;
  }
  function requestOptions(o) {
    var p = Object.assign({}, o, { challenge: b64urlToBytes(o.challenge) });
    p.allowCredentials = (o.allowCredentials || []).map(function (c) { return Object.assign({}, c, { id: b64urlToBytes(c.id) }); });
    return p;
  }
  function credentialJson(c) {
    var r = c.response, response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bytesToB64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    }
    if (r.authenticatorData) response.authenticatorData = bytesToB64url(r.authenticatorData);
    if (r.signature) response.signature = bytesToB64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
    return JSON.stringify({ id: c.id, rawId: bytesToB64url(c.rawId), type: c.type, response: response,
      clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment || undefined });
  }
  function options(button) {
    return fetch(button.getAttribute('data-options'), {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=' + encodeURIComponent(button.getAttribute('data-csrf')),
    }).then(function (r) { if (!r.ok) throw new Error('options'); return r.json(); });
  }
  function showError(text) {
    var e = document.getElementById('passkey_error');
    if (e) { e.textContent = text; e.hidden = false; }
  }
  function wire(buttonId, shownId, run) {
    var button = document.getElementById(buttonId), shown = document.getElementById(shownId);
    if (!button || !shown) return;
    shown.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      run(button).catch(function () {
        button.disabled = false;
        showError('The passkey was not used. Try again, or sign in another way.');
      });
    });
  }
  function ready() {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    wire('passkey_sign_in', 'passkey_choice', function (button) {
      return options(button).then(function (o) {
        return navigator.credentials.get({ publicKey: requestOptions(o) });
      }).then(function (c) {
        document.getElementById('passkey_credential').value = credentialJson(c);
        document.getElementById('passkey_form').submit();
      });
    });
    wire('passkey_create', 'passkey_add', function (button) {
      return options(button).then(function (o) {
        return navigator.credentials.create({ publicKey: creationOptions(o) });
      }).then(function (c) {
        document.getElementById('passkey_credential').value = credentialJson(c);
        document.getElementById('passkey_register_form').submit();
      });
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready); else ready();
})();
`;
