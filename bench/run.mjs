// `npm run bench`: device authorization and DPoP pending-poll throughput, Tether (SQLite, durable) against npm
// oidc-provider (in memory), each server alone on one core, driven identically from the other core.
import { cpus } from 'node:os';
import { clientKeys, signProofs } from './dpop-proofs.mjs';
import { CodeRing, PollFeed, deviceAuthorizations, pendingPolls } from './load.mjs';
import { preflight } from './preflight.mjs';
import { comparison, detail, int, problems, warnings } from './report.mjs';
import { setUpPinning, startOidcProvider, startTether } from './servers.mjs';

// Identical for both servers. 32 keep-alive connections saturate one single-threaded server without queueing
// so deep that latency dominates; no pipelining, as real OAuth clients do not pipeline.
const LOAD = { connections: 32, pipelining: 1 };
const WARMUP_SECONDS = 3;
const SECONDS = 10;
// 20,000 codes polled round-robin: below 20,000 polls/s no code is polled twice within a second, so Tether's
// pacer (client interval 1 s) never answers slow_down; real clients would poll each code every 5 s.
const DEVICES = 20_000;
const DEVICES_PER_KEY = 1_000;
const WARMUP_POLLS = 6_000;
const TOP_UP_SECONDS = 15;
const CLIENT_ID = 'bench-device';
const TARGETS = { deviceAuthorization: 2, poll: 4, pollCoreFraction: 0.25 };
// The scenario: 10,000 devices each polling every 5 s.
const SCENARIO_POLLS_PER_SECOND = 10_000 / 5;

const log = (line = '') => process.stdout.write(`${line}\n`);

async function benchmark(start, keys, pinned, devices) {
  const server = await start({ clientId: CLIENT_ID, pinned });
  const say = (what) => log(`  ${server.name}: ${what}`);
  try {
    await preflight(server, { clientId: CLIENT_ID, keys });
    const codes = new CodeRing(devices);
    say(`device authorization, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s`);
    await deviceAuthorizations(server, { ...LOAD, clientId: CLIENT_ID, codes, duration: WARMUP_SECONDS });
    const deviceAuthorization = await deviceAuthorizations(server, { ...LOAD, clientId: CLIENT_ID, codes, duration: SECONDS });
    if (codes.items.length < devices) {
      const missing = devices - codes.items.length;
      say(`creating ${int(missing)} more device codes (at most ${TOP_UP_SECONDS} s)`);
      await deviceAuthorizations(server, { ...LOAD, clientId: CLIENT_ID, codes, amount: missing, maxSeconds: TOP_UP_SECONDS });
      if (codes.items.length < devices) say(`polling ${int(codes.items.length)} codes instead of ${int(devices)}`);
    }

    const feed = new PollFeed({ clientId: CLIENT_ID, codes: codes.items });
    const sign = (count) =>
      signProofs({ keys, htu: server.endpoints.token, from: feed.cursor, count, devices: feed.devices, devicesPerKey: DEVICES_PER_KEY });
    feed.load(await sign(WARMUP_POLLS));
    // The warm-up is a fixed number of polls; its rate (the better of wall-clock and per-CPU-second, in case
    // something else shared the core) sizes the proof pool for the timed run, with headroom.
    const warm = await pendingPolls(server, feed, { ...LOAD, amount: WARMUP_POLLS, maxSeconds: SECONDS });
    let expected = Math.max(warm.total / warm.seconds, warm.total / (warm.serverCpu * warm.seconds) || 0);
    let poll;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const poolSize = Math.ceil(expected * SECONDS * 1.5) + 2_000;
      say(`signing ${int(poolSize)} DPoP proofs, then pending polls for ${SECONDS} s`);
      feed.load(await sign(poolSize));
      poll = await pendingPolls(server, feed, { ...LOAD, duration: SECONDS });
      poll.exhausted = feed.exhausted;
      if (poll.exhausted === 0) break;
      // The warm-up underestimated the server (cold JIT); measure again with a pool sized from this run.
      expected = poll.total / poll.seconds;
      say(`ran out of proofs after ${int(poolSize)}; once more with a bigger pool`);
    }
    return { deviceAuthorization, poll, devices: feed.devices };
  } finally {
    await server.stop();
  }
}

async function main() {
  const pinned = setUpPinning();
  log(`Tether vs oidc-provider — ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  log(
    pinned
      ? '  each server pinned to CPU 1 (taskset -c 1), load generator pinned to CPU 0'
      : '  NOTE: taskset or a second core is missing: servers and load generator are NOT pinned; figures are rougher',
  );
  log(
    `  ${LOAD.connections} connections, pipelining ${LOAD.pipelining}, ${SECONDS} s per measurement after warm-up; ` +
      `${int(DEVICES)} device codes polled round-robin, one ES256 DPoP key per ${int(DEVICES_PER_KEY)}, a fresh proof per poll`,
  );
  log('  Tether: real binary, SQLite WAL (synchronous=normal) · oidc-provider: in-memory adapter');
  log();

  const keys = await clientKeys(DEVICES / DEVICES_PER_KEY);
  const tether = await benchmark(startTether, keys, pinned, DEVICES);
  // The same number of codes at both, should a slow run have left Tether with fewer.
  const oidc = await benchmark(startOidcProvider, keys, pinned, tether.devices);

  const runs = [
    ['Tether device authorization', tether.deviceAuthorization],
    ['oidc-provider device authorization', oidc.deviceAuthorization],
    ['Tether pending poll (DPoP)', tether.poll],
    ['oidc-provider pending poll (DPoP)', oidc.poll],
  ];
  log();
  log(`Details (valid = 200 with a device code / 400 authorization_pending or slow_down; ${int(oidc.devices)} codes polled):`);
  for (const [name, run] of runs) log(detail(name, run));
  log();
  const metrics = (figure) => [
    { label: 'device authorization', tether: figure(tether.deviceAuthorization), oidc: figure(oidc.deviceAuthorization), target: TARGETS.deviceAuthorization },
    { label: 'pending poll with DPoP', tether: figure(tether.poll), oidc: figure(oidc.poll), target: TARGETS.poll },
  ];
  log(comparison(metrics((run) => run.rate)));
  log();
  // The same counts divided by the CPU time each server actually got: equal to the above on an idle machine, and
  // the figure to trust when the warnings below say something else competed for the server's core.
  log(comparison(metrics((run) => run.perCpuSecond), 'req/CPU-s'));
  const fraction = SCENARIO_POLLS_PER_SECOND / tether.poll.rate;
  const fractionByCpu = SCENARIO_POLLS_PER_SECOND / tether.poll.perCpuSecond;
  log();
  log(
    `10,000 devices polling every 5 s = ${int(SCENARIO_POLLS_PER_SECOND)} polls/s ÷ ${int(tether.poll.rate)} Tether DPoP polls/s on one core` +
      ` = ${fraction.toFixed(3)} of one core; target < ${TARGETS.pollCoreFraction}: ` +
      `${fraction < TARGETS.pollCoreFraction ? 'met' : 'NOT met'} (by CPU time used: ${fractionByCpu.toFixed(3)})`,
  );

  const bad = runs.flatMap(([name, run]) => problems(name, run));
  const suspect = runs.flatMap(([name, run]) => warnings(name, run));
  for (const w of suspect) log(`WARNING ${w}`);
  for (const p of bad) log(`INVALID ${p}`);
  // Missing a target is a result, not a failure; a run whose answers were wrong is.
  if (bad.length > 0) process.exitCode = 1;
}

await main();
