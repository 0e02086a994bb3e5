// The pending poll's proof (docs/architecture.md, "A pending poll's proof"): the signature is checked for every
// answer except a pending one (authorization_pending). For a code bound to a key, the pacer checks the signature
// when pacing comes to depend on it, so a code thief who names the device's key without holding it can neither pace
// the device (slow_down) nor redeem the code.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertOAuthError, authorize, decide, redeem } from '../support/device-flow.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { startServer, type TestServer } from '../support/in-process.js';

/** A proof that names `key` and passes every check but the signature: what a thief without the key can send. */
async function forged(key: DpopKey, htu: string): Promise<string> {
  const [header, payload] = (await key.proof('POST', htu)).split('.');
  return `${header}.${payload}.${Buffer.alloc(64, 7).toString('base64url')}`;
}

describe("a pending poll's proof", () => {
  let server: TestServer;
  let tokenUrl: string;
  before(async () => {
    server = await startServer();
    tokenUrl = `${server.issuer}/token`;
  });
  after(() => server.close());

  const poll = (deviceCode: string, proof: string) => redeem(server, deviceCode, { client_id: 'tether-cli' }, { DPoP: proof });

  it('a thief naming the key of a bound code cannot pace the device, and is refused once pacing depends on it', async () => {
    const device = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli' }, { DPoP: await device.proof('POST', `${server.issuer}/device_authorization`) });
    // The thief has the device code and the device's public key (both in the device's traffic), not its private key.
    // A first poll is on time: answered like the device's would be (the thief learns only that the code is pending).
    assertOAuthError(await poll(codes.device_code, await forged(device, tokenUrl)), 'authorization_pending');
    // Polls too soon after it have their signature checked: the thief's are refused, and record nothing.
    for (let i = 0; i < 3; i++) assertOAuthError(await poll(codes.device_code, await forged(device, tokenUrl)), 'invalid_dpop_proof');
    // The device's poll comes too soon after the thief's first one; that one was forged, so it never counted.
    assertOAuthError(await poll(codes.device_code, await device.proof('POST', tokenUrl)), 'authorization_pending');
    // The device polling too soon itself is still slowed down: pacing works on signed polls.
    assertOAuthError(await poll(codes.device_code, await device.proof('POST', tokenUrl)), 'slow_down');
  });

  it('a forged proof by the bound key never gets a bound code redeemed, nor used up', async () => {
    const device = await dpopKey();
    const codes = await authorize(server, { client_id: 'tether-cli' }, { DPoP: await device.proof('POST', `${server.issuer}/device_authorization`) });
    await decide(server, codes.user_code);
    assertOAuthError(await poll(codes.device_code, await forged(device, tokenUrl)), 'invalid_dpop_proof');
    const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, device);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });

  it('an approved code is never redeemed, nor used up, by a proof with a forged signature', async () => {
    const device = await dpopKey();
    const codes = await authorize(server);
    await decide(server, codes.user_code);
    assertOAuthError(await poll(codes.device_code, await forged(device, tokenUrl)), 'invalid_dpop_proof');
    const reply = await redeem(server, codes.device_code, { client_id: 'tether-cli' }, {}, device);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });

  it("an unbound pending code's answer is the same whoever signed, and a replayed proof is still refused", async () => {
    const someone = await dpopKey();
    const codes = await authorize(server);
    // What anyone holding the code learns with a key of their own: nothing more is given to a forged signature.
    const proof = await forged(someone, tokenUrl);
    assertOAuthError(await poll(codes.device_code, proof), 'authorization_pending');
    assertOAuthError(await poll(codes.device_code, proof), 'invalid_dpop_proof');
  });
});
