// DPoP proofs stay single-use across a crash: a proof the server accepted before a SIGKILL is refused after the
// restart (the replay mark, src/dpop/replay-mark.ts), while fresh proofs work at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startTether, type RunningBinary } from '../support/binary.js';
import { dpopKey } from '../support/dpop.js';
import { postForm } from '../support/http.js';
import { freePort } from '../support/ports.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tether-dpop-restart-'));
let running: RunningBinary | undefined;
after(async () => {
  await running?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a proof accepted before a SIGKILL is refused after the restart; a new proof is accepted', async () => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const url = `${issuer}/device_authorization`;
  const args = ['serve', '--dev', '--port', String(port), '--data-dir', dataDir];
  const env = { TETHER_DEV_PASSWORD: 'dpop-restart-password-0123' };
  const key = await dpopKey();
  const ask = (proof: string) => postForm(url, { client_id: 'tether-cli' }, { dpop: proof });

  running = await startTether(args, env);
  const proof = await key.proof('POST', url);
  assert.equal((await ask(proof)).status, 200, 'the first use is accepted');
  const replayed = await ask(proof);
  assert.equal(replayed.status, 400);
  assert.equal(replayed.body['error'], 'invalid_dpop_proof', 'a replay before the crash is refused from memory');

  await running.kill();
  running = await startTether(args, env);
  const afterRestart = await ask(proof);
  assert.equal(afterRestart.status, 400, `the proof from before the crash is refused: ${JSON.stringify(afterRestart.body)}`);
  assert.equal(afterRestart.body['error'], 'invalid_dpop_proof');

  // A client's next proof is dated after the mark (at worst a second later) and goes through.
  const iat = Math.max(Math.floor(Date.now() / 1000), Number(decodeJwt(proof).iat) + 1);
  const fresh = await ask(await key.proof('POST', url, { iat }));
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
});
