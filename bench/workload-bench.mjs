// `npm run bench` (last part): workload token exchange throughput on the real binary. RFC 8693 federation (an
// ES256 CI job token verified against the stand-in issuer's JWKS, jti claimed, audit appended) and the RFC 7523
// key-bound grant, each with a fresh DPoP proof; every subject token, assertion and proof is single-use, so all
// are signed ahead of the timed run. Beside them, in the same run and on the same server, pending device-code polls
// (the device flow's hot path at the token endpoint), for scale.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { clientKeys, signProofs } from './dpop-proofs.mjs';
import { CodeRing, PollFeed, deviceAuthorizations, pendingPolls, singleUseTokenRequests } from './load.mjs';
import { detail, int, problems, warnings } from './report.mjs';
import { setUpPinning, startTether } from './servers.mjs';
import { openSqlite } from '../dist/storage/sqlite.js';
import { SqlWorkloadStore } from '../dist/storage/workloads.js';
import { hashPassword } from '../dist/users/password.js';

const LOAD = { connections: 32, pipelining: 1 };
const SECONDS = Number(process.env['BENCH_WORKLOAD_SECONDS'] ?? 5);
const WARMUP = 1_000;
const CLIENT_ID = 'bench-device';
const AUDIENCE = 'https://tether.bench';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const log = (line = '') => process.stdout.write(`${line}\n`);
const form = (fields) => new URLSearchParams(fields).toString();

async function ciIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  let issuer = '';
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(request.url === '/jwks' ? { keys: [jwk] } : { issuer, jwks_uri: `${issuer}/jwks` }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  const token = () =>
    new SignJWT({ repository: 'acme/app', ref: 'refs/heads/main' })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
      .setIssuer(issuer)
      .setSubject('repo:acme/app:ref:refs/heads/main')
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(privateKey);
  return { issuer, token, close: () => server.close() };
}

/** Registers two workloads straight in the store (the person's login is not what is measured here). */
async function registerWorkloads(server, issuer, keyJwk) {
  const db = await openSqlite({ dataDir: server.dataDir, synchronous: 'normal' });
  const store = new SqlWorkloadStore(db);
  const now = Math.floor(Date.now() / 1000);
  const base = {
    ownerId: 'bench-owner',
    purpose: 'bench',
    resources: [server.api],
    scopes: ['read'],
    createdAt: now,
    expiresAt: now + 86400,
    lastUsedAt: null,
    status: 'active',
    statusChangedAt: now,
    tokensRevokedBefore: null,
    provenance: { grantId: 'bench-grant', jkt: null, deviceClass: 'managed', clientId: CLIENT_ID },
  };
  const federated = { ...base, id: randomUUID(), name: 'bench-federated', proof: { method: 'federated', issuer, subject: 'repo:acme/app:ref:refs/heads/main', claims: { repository: 'acme/app' } } };
  const { calculateJwkThumbprint } = await import('jose');
  const keyed = { ...base, id: randomUUID(), name: 'bench-key', proof: { method: 'key', publicJwk: keyJwk, jkt: await calculateJwkThumbprint(keyJwk) } };
  await store.create(federated, []);
  await store.create(keyed, []);
  await db.destroy();
  return { keyedId: keyed.id };
}

async function pool(count, make) {
  const items = [];
  for (let start = 0; start < count; start += 256) {
    items.push(...(await Promise.all(Array.from({ length: Math.min(256, count - start) }, make))));
  }
  return { items, cursor: 0, exhausted: 0 };
}

async function measure(server, name, make) {
  const warm = await pool(WARMUP, make);
  const w = await singleUseTokenRequests(server, warm, { ...LOAD, amount: WARMUP, maxSeconds: 20 });
  let expected = Math.max(w.total / w.seconds, w.total / (w.serverCpu * w.seconds) || 0);
  let run;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const size = Math.ceil(expected * SECONDS * 2) + 1_000;
    log(`  ${name}: signing ${int(size)} single-use requests, then ${SECONDS} s`);
    const timed = await pool(size, make);
    run = await singleUseTokenRequests(server, timed, { ...LOAD, duration: SECONDS });
    run.exhausted = timed.exhausted;
    if (run.exhausted === 0) break;
    // The warm-up underestimated the server (cold JIT): once more with a pool sized from this run.
    expected = run.total / run.seconds;
  }
  return run;
}

async function main() {
  const pinned = setUpPinning();
  log(`Workload token exchange — Node ${process.version}${pinned ? ', server pinned to CPU 1' : ', NOT pinned (rougher figures)'}`);
  const ci = await ciIssuer();
  const server = await startTether({
    clientId: CLIENT_ID,
    pinned,
    extra: {
      federation: { issuers: [{ issuer: ci.issuer, audience: AUDIENCE, algorithms: ['ES256'] }] },
      // Every exchange checks that the workload's owner is still in the directory.
      users: [{ username: 'bench-owner', password_hash: await hashPassword(randomUUID()) }],
    },
  });
  try {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const pub = await exportJWK(publicKey);
    const { keyedId } = await registerWorkloads(server, ci.issuer, { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y });
    const [runner] = await clientKeys(1);
    const proof = () =>
      new SignJWT({ htm: 'POST', htu: server.endpoints.token, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: runner.jwk })
        .setIssuedAt()
        .sign(runner.privateKey);
    const federated = async () => ({
      body: form({ grant_type: TOKEN_EXCHANGE, subject_token: await ci.token(), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }),
      proof: await proof(),
    });
    const assertion = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(`workload:${keyedId}`)
        .setSubject(`workload:${keyedId}`)
        .setAudience(server.endpoints.token)
        .setIssuedAt()
        .setExpirationTime('2m')
        .setJti(randomUUID())
        .sign(privateKey);
    const keyBound = async () => ({ body: form({ grant_type: JWT_BEARER, assertion: await assertion() }), proof: await proof() });

    const exchange = await measure(server, 'federated exchange (RFC 8693)', federated);
    const keyed = await measure(server, 'key-bound (RFC 7523)', keyBound);

    // For scale, on the same server in the same run: pending device-code polls with DPoP.
    // Enough codes that none is polled again within its 1 s interval at 10,000 polls/s (a poll too soon is
    // answered slow_down: another path, which the report warns of).
    const codes = new CodeRing(20_000);
    await deviceAuthorizations(server, { ...LOAD, clientId: CLIENT_ID, codes, amount: 20_000, maxSeconds: 30 });
    const feed = new PollFeed({ clientId: CLIENT_ID, codes: codes.items });
    const keys = await clientKeys(5);
    feed.load(await signProofs({ keys, htu: server.endpoints.token, from: 0, count: 2_000, devices: feed.devices, devicesPerKey: 1_000 }));
    const warm = await pendingPolls(server, feed, { ...LOAD, amount: 2_000, maxSeconds: 20 });
    // The warm-up runs cold (JIT) and underestimates the server: a pool four times its rate, and never small.
    const size = Math.max(120_000, Math.ceil((warm.total / warm.seconds) * SECONDS * 4));
    feed.load(await signProofs({ keys, htu: server.endpoints.token, from: feed.cursor, count: size, devices: feed.devices, devicesPerKey: 1_000 }));
    const poll = await pendingPolls(server, feed, { ...LOAD, duration: SECONDS });
    poll.exhausted = feed.exhausted;

    const runs = [
      ['Tether workload exchange (federated)', exchange],
      ['Tether workload exchange (key-bound)', keyed],
      ['Tether pending poll (DPoP)', poll],
    ];
    log();
    for (const [name, run] of runs) log(detail(name, run));
    log();
    for (const [name, run] of runs) log(`  ${name.padEnd(38)} ${int(run.rate).padStart(7)} req/s  ${int(run.perCpuSecond).padStart(7)} req/CPU-s`);
    const bad = runs.flatMap(([name, run]) => problems(name, run));
    for (const w of runs.flatMap(([name, run]) => warnings(name, run))) log(`WARNING ${w}`);
    for (const p of bad) log(`INVALID ${p}`);
    if (bad.length > 0) process.exitCode = 1;
  } finally {
    await server.stop();
    ci.close();
  }
}

await main();
