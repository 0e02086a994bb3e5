// The client address cannot be chosen by the client: X-Forwarded-For counts only when a trusted proxy sent it,
// and then only from the right up to the first untrusted hop. Real sockets, so the peer address is real; what
// the server believed is read where a person sees it, on the review page ("from where").
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { compile } from '@fastify/proxy-addr';
import { proxyTrust, TRUST_MEMO_SIZE } from '../../src/http/request-context.js';
import { FormBrowser } from '../support/browser-form.js';
import { postForm } from '../support/http.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../support/in-process.js';
import { freePort } from '../support/ports.js';

/** Asks for a device code with these headers, then opens the review page as alice; returns the address shown. */
async function addressSeen(server: TestServer, base: string, headers: Record<string, string>): Promise<string> {
  const reply = await postForm(`${base}/device_authorization`, { client_id: 'tether-cli' }, headers);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const userCode = String(reply.body['user_code']);
  const browser = new FormBrowser(server.config.issuer);
  let page = await browser.get(`/device?user_code=${encodeURIComponent(userCode)}`);
  // Whatever the order of code entry and sign-in, walk the forms until the review page.
  for (let step = 0; step < 4 && !page.includes('action="/device/decision"'); step++) {
    if (page.includes('action="/device/sign-in"')) {
      page = await browser.post('/device/sign-in', { user_code: userCode, username: 'alice', password: TEST_PASSWORD });
    } else {
      page = await browser.post('/device', { user_code: userCode });
    }
  }
  const shown = /from <strong>([^<]+)<\/strong><\/dd>/.exec(page)?.[1];
  assert.ok(shown, `no review page: ${page.slice(0, 300)}`);
  return shown;
}

/** An address of this machine that is not loopback, to be a peer the server does not trust. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('client addresses behind --trust-proxy', () => {
  test('without --trust-proxy, X-Forwarded-For is ignored', async () => {
    const server = await startServer();
    try {
      assert.equal(await addressSeen(server, server.issuer, { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
    } finally {
      await server.close();
    }
  });

  test('bare --trust-proxy believes a loopback proxy, and only the hops it appended', async () => {
    const server = await startServer({ trust_proxy: true });
    try {
      assert.equal(await addressSeen(server, server.issuer, { 'x-forwarded-for': '203.0.113.9' }), '203.0.113.9');
      // The client wrote the left part itself; the proxy appended what it saw. The client is the rightmost untrusted hop.
      const spoofed = { 'x-forwarded-for': '10.1.2.3, 198.51.100.20, 203.0.113.9' };
      assert.equal(await addressSeen(server, server.issuer, spoofed), '203.0.113.9');
      // A loopback hop in the chain is a trusted proxy too: the client is the one before it.
      assert.equal(await addressSeen(server, server.issuer, { 'x-forwarded-for': '203.0.113.9, 127.0.0.5' }), '203.0.113.9');
    } finally {
      await server.close();
    }
  });

  test('bare --trust-proxy believes a proxy on ::1 too', async () => {
    const port = await freePort();
    const server = await startServer({ issuer: `http://[::1]:${port}`, listen: { host: '::1', port }, trust_proxy: true });
    try {
      assert.equal(await addressSeen(server, server.config.issuer, { 'x-forwarded-for': '2001:db8::7' }), '2001:db8::7');
    } finally {
      await server.close();
    }
  });

  const external = externalAddress();
  test('bare --trust-proxy ignores X-Forwarded-For from a peer off this machine', { skip: external ? false : 'no non-loopback address' }, async () => {
    const port = await freePort();
    const server = await startServer({ issuer: `http://127.0.0.1:${port}`, listen: { host: '0.0.0.0', port }, trust_proxy: true });
    try {
      // The request comes from this machine's external address: not loopback, so not a trusted proxy.
      const seen = await addressSeen(server, `http://${external}:${port}`, { 'x-forwarded-for': '203.0.113.9' });
      assert.equal(seen, external);
    } finally {
      await server.close();
    }
  });

  test('listen.trusted_proxies names the proxies; loopback is then not trusted unless --trust-proxy', async () => {
    const elsewhere = await startServer(await listenWith(['10.0.0.0/8']));
    try {
      assert.equal(await addressSeen(elsewhere, elsewhere.config.issuer, { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
    } finally {
      await elsewhere.close();
    }
    const chain = await startServer(await listenWith(['127.0.0.0/8', '192.0.2.0/24']));
    try {
      // Two trusted proxies in a row (an edge at 192.0.2.7, then one on loopback): the client is before both.
      const headers = { 'x-forwarded-for': '10.9.9.9, 198.51.100.4, 192.0.2.7' };
      assert.equal(await addressSeen(chain, chain.config.issuer, headers), '198.51.100.4');
    } finally {
      await chain.close();
    }
  });

  test('a trusted_proxies entry that is not an address range stops the start', async () => {
    await assert.rejects(startServer(await listenWith(['not-a-range'])), /trusted_proxies/);
  });
});

// The trust check remembers its answer per address (request-context.ts). A wrong memo would let one address's
// answer stand for another's: a spoofer's hop believed because a proxy's was. Asked in rounds, so every answer
// after the first comes from the memo, and past the memo's bound, so it also starts over in between.
describe('the remembered proxy check', () => {
  const configured = ['192.0.2.0/24', '2001:db8:1::/48'];
  const addresses = [
    '127.0.0.1', '127.0.0.5', '::1', '::ffff:127.0.0.1', '192.0.2.7', '192.0.3.7', '203.0.113.9', '2001:db8:1::9',
    '2001:db8:2::9', '::ffff:192.0.2.7', '127.0.0.1 ', '127.0.0.1.1', '1270.0.0.1', 'localhost', '', '0',
  ];

  test('answers for every address what proxy-addr answers, from the memo too', () => {
    const reference = compile([...LOOPBACK, ...configured]);
    const trust = proxyTrust(true, configured);
    assert.ok(trust);
    for (let round = 0; round < 3; round++) {
      for (const address of addresses) assert.equal(trust(address, 1), reference(address, 1), `${address} (round ${round})`);
    }
    // Some of each, or the comparison above proves little.
    assert.ok(addresses.some((a) => reference(a, 0)) && addresses.some((a) => !reference(a, 0)));
    assert.equal(trust(undefined, 0), false, 'a peer with no address is nobody to trust');
  });

  test('many addresses make it start over, never give one address another one\'s answer', () => {
    const trust = proxyTrust(true, []);
    assert.ok(trust);
    assert.equal(trust('127.0.0.1', 0), true);
    // A flood of distinct peers, three times what the memo holds.
    for (let i = 0; i < 3 * TRUST_MEMO_SIZE; i++) assert.equal(trust(`198.51.${(i >> 8) & 255}.${i & 255}`, 0), false);
    assert.equal(trust('127.0.0.1', 0), true);
    assert.equal(trust('127.0.0.2', 0), true);
    assert.equal(trust('128.0.0.1', 0), false);
    assert.equal(proxyTrust(false, []), false, 'no proxies: the framework takes the peer');
  });
});

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

async function listenWith(trusted: string[]): Promise<Record<string, unknown>> {
  const port = await freePort();
  return { issuer: `http://127.0.0.1:${port}`, listen: { host: '127.0.0.1', port, trusted_proxies: trusted } };
}
