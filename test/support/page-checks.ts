import assert from 'node:assert/strict';

/** A CSP that allows no script at all and no inline anything. */
/**
 * `passkeyScript`: the page offers passkeys and may run our own /static/passkey.js (`script-src 'self'`), never
 * inline script. Every other page, the review page with Approve first, must refuse all script.
 */
export function assertStrictCsp(headers: Headers, where: string, passkeyScript = false): void {
  const csp = headers.get('content-security-policy');
  assert.ok(csp, `${where}: no Content-Security-Policy`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|unsafe-hashes|strict-dynamic|'nonce-|'sha\d+-/i, where);
  const directives = new Map(
    csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name = '', ...values] = d.split(/\s+/);
      return [name.toLowerCase(), values.join(' ')] as const;
    }),
  );
  const script = directives.get('script-src') ?? directives.get('default-src');
  if (passkeyScript) {
    assert.equal(script, "'self'", `${where}: only our own passkey script may run`);
    assert.equal(directives.get('connect-src'), "'self'", where);
  } else {
    assert.equal(script, "'none'", `${where}: scripts must be refused (script-src or default-src 'none')`);
  }
  assert.equal(directives.get('default-src'), "'none'", where);
  assert.equal(directives.get('frame-ancestors'), "'none'", where);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', where);
}

/** A page a person can read: HTML, with a heading, and nothing internal such as a stack trace. */
export function assertHumanPage(headers: Headers, body: string, where: string): void {
  assert.match(headers.get('content-type') ?? '', /^text\/html/, where);
  assert.match(body, /^<!doctype html>/i, where);
  assert.match(body, /<h1[^>]*>[^<]+<\/h1>/, where);
  assert.doesNotMatch(body, /\n\s+at .+:\d+:\d+|Error:|"statusCode"|FST_/, where);
  assert.throws(() => JSON.parse(body) as unknown, SyntaxError, `${where}: JSON instead of a page`);
  assertStrictCsp(headers, where, offersPasskeys(body));
}

/** The page loads the passkey script; a page with a decision form never may. */
export function offersPasskeys(body: string): boolean {
  const loads = body.includes('<script src="/static/passkey.js"');
  assert.ok(!(loads && body.includes('action="/device/decision"')), 'the review page must not load any script');
  return loads;
}
