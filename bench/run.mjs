// `npm run bench`: every hot path of the server, Tether (real binary, SQLite, durable) beside npm oidc-provider
// (in memory), each as a fraction of its ceiling, all from one run. Both servers, the constant node:http route and
// the crypto probe run at once, pinned to one core; the load generator (autocannon, this process) has the other.
// Every path is measured in rounds that alternate the servers, so load from elsewhere on the machine cannot single
// one out; per path the best round by server CPU-second counts (other work only ever lowers a rate).
//
// Knobs (environment): BENCH_SECONDS (per timed window, default 4), BENCH_ROUNDS (default 2), BENCH_DEVICES
// (codes polled, default 20,000), BENCH_REDEEM (approved codes redeemed per server and round, default 4,000),
// BENCH_REDEEM_WARMUP (approved codes redeemed per server before the rounds, default 1,500),
// BENCH_ONLY (paths to measure, below), BENCH_PROFILE=DIR (CPU profiles of Tether per phase, and the breakdown of
// where its CPU went: parsing, framework, SQLite, audit hashing, policy, logging, signatures, node:http; run with
// `node --experimental-websocket` on Node 20).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { clientKeys, signProofs } from './dpop-proofs.mjs';
import { approveAll, proofKey, signDeviceProofs, startDevices } from './flows.mjs';
import { CodeRing, PollFeed, constantRoute, deviceAuthorizations, introspections, pendingPolls, redemptions, refreshes } from './load.mjs';
import { preflight } from './preflight.mjs';
import { breakdownTable } from './profile-breakdown.mjs';
import { PROFILE_DIR, requireProfilerSupport } from './profiler.mjs';
import { detail, int, problems, table, warnings } from './report.mjs';
import { INTROSPECTOR, setUpPinning, startConstant, startCrypto, startOidcProvider, startTether } from './servers.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
// Identical for both servers. 32 keep-alive connections saturate one single-threaded server without queueing
// so deep that latency dominates; no pipelining, as real OAuth clients do not pipeline.
const LOAD = { connections: 32, pipelining: 1 };
const SECONDS = env('BENCH_SECONDS', 4);
const ROUNDS = env('BENCH_ROUNDS', 2);
const WARMUP_SECONDS = 2;
// Codes polled round-robin: below DEVICES polls/s no code is polled twice within a second, so Tether's pacer
// (client interval 1 s) never answers slow_down; real clients would poll each code every 5 s.
const DEVICES = env('BENCH_DEVICES', 20_000);
const DEVICES_PER_KEY = 1_000;
// A code redeems once, so a redemption round is a number of codes, not seconds: 4,000 is about 1.6 s of Tether and
// 3 s of oidc-provider. At 1,500 a round was 0.6 s of Tether, in which the 32 connections' ramp-up and drain and a
// single GC or checkpoint weigh far more than in the 4 s every other path is timed over.
const REDEEM = env('BENCH_REDEEM', 4_000);
// Every other path gets WARMUP_SECONDS before it is timed; a code redeems once, so redemption's warm-up is codes of
// its own. Without it the first round timed the JIT compiling the issuing code (V8's helper threads took 23-30% of
// the server's CPU in that window). The warm-up is measured too and printed as the cold figure.
const REDEEM_WARMUP = env('BENCH_REDEEM_WARMUP', 1_500);
// Codes bound to a key, polled round-robin: fewer than polls per second would re-poll a code within its 1 s interval
// (answered slow_down after a signature check: another path; the report warns when it happens).
const BOUND_DEVICES = env('BENCH_BOUND_DEVICES', 20_000);
const TOP_UP_SECONDS = 15;
// BENCH_ONLY=poll,refresh (paths by their key in TARGETS/labels): measure only those, for working on one path; a
// full `npm run bench` measures all. Refresh needs redemption's chains and introspection its tokens, so those run
// their redemption too.
const ONLY = process.env['BENCH_ONLY'] ? new Set(process.env['BENCH_ONLY'].split(',')) : undefined;
const wanted = (...paths) => !ONLY || paths.some((p) => ONLY.has(p));
const CLIENT_ID = 'bench-device';
const TARGETS = { deviceAuthorization: 2, poll: 4, boundPoll: 4, redemption: 3, refresh: 3, pollCoreFraction: 0.25 };
// The scenario: 10,000 devices each polling every 5 s.
const SCENARIO_POLLS_PER_SECOND = 10_000 / 5;
// Keycloak's published sizing: 120 refresh-token grants per second per vCPU (keycloak.org, "Concepts for sizing CPU
// and memory resources"), against its own database.
const KEYCLOAK_REFRESH_PER_VCPU = 120;

const log = (line = '') => process.stdout.write(`${line}\n`);
/** Profiles written this run (BENCH_PROFILE), one per phase and round of Tether, for the breakdown at the end. */
const profiled = [];
const best = (runs) => runs.reduce((a, b) => (b.perCpuSecond > a.perCpuSecond ? b : a));

/** Runs `measure(server)` for each server, ROUNDS times, the order swapped every round; the best round each. */
async function alternate(servers, label, measure) {
  const runs = new Map(servers.map((s) => [s, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      log(`  ${label}, round ${r + 1}: ${server.name}`);
      const run = () => measure(server, r);
      const name = `${label.replace(/\W+/g, '-')}-${r + 1}`;
      if (server.profiler) profiled.push(join(PROFILE_DIR, `${name}.cpuprofile`));
      runs.get(server).push(await (server.profiler ? server.profiler.around(name, run) : run()));
    }
  }
  return new Map([...runs].map(([s, list]) => [s, { ...best(list), rounds: list }]));
}

/**
 * Pending polls of `feeds` (a PollFeed per server), warmed up on 4,000 polls each, then timed in alternating rounds.
 * Every poll carries a proof signed ahead by `sign(server, count)`: a pool sized from the rate seen so far, and,
 * if a window still outran it (a replayed proof is refused, so it would not count), that window again with a
 * bigger pool, up to twice; a pool still too small is reported and fails the bench.
 */
async function timedPolls(servers, label, feeds, sign) {
  const expected = new Map();
  for (const s of servers) {
    const feed = feeds.get(s);
    feed.load(await sign(s, 4_000));
    const warm = await pendingPolls(s, feed, { ...LOAD, amount: 4_000, maxSeconds: SECONDS });
    expected.set(s, Math.max(warm.total / warm.seconds, warm.total / (warm.serverCpu * warm.seconds) || 0));
  }
  return alternate(servers, label, async (s) => {
    const feed = feeds.get(s);
    for (let attempt = 0; ; attempt++) {
      feed.load(await sign(s, Math.ceil(expected.get(s) * SECONDS * 1.5 * (attempt + 1)) + 2_000));
      const run = await pendingPolls(s, feed, { ...LOAD, duration: SECONDS });
      run.exhausted = feed.exhausted;
      expected.set(s, Math.max(expected.get(s), run.total / run.seconds));
      if (run.exhausted === 0 || attempt === 2) return run;
      log(`    ${s.name}: ran out of proofs; once more with a bigger pool`);
    }
  });
}

async function main() {
  requireProfilerSupport();
  const pinned = setUpPinning();
  log(`Tether vs oidc-provider, every hot path — ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  log(
    pinned
      ? '  servers pinned to CPU 1 (taskset -c 1), load generator pinned to CPU 0'
      : '  NOTE: taskset or a second core is missing: servers and load generator are NOT pinned; figures are rougher',
  );
  log(
    `  ${LOAD.connections} connections, pipelining ${LOAD.pipelining}, ${SECONDS} s per window, ${ROUNDS} rounds alternating the servers (best counts); ` +
      `${int(DEVICES)} codes polled round-robin, ${int(REDEEM)} redeemed per round; a fresh ES256 DPoP proof per request`,
  );
  log('  Tether: real binary, SQLite WAL (synchronous=normal) · oidc-provider: in-memory adapter, ES256 JWT access tokens, rotating refresh tokens');
  log();

  const keys = await clientKeys(DEVICES / DEVICES_PER_KEY);
  const tether = await startTether({ clientId: CLIENT_ID, pinned });
  const oidc = await startOidcProvider({ clientId: CLIENT_ID, pinned });
  const constant = await startConstant({ pinned });
  const crypto = startCrypto({ pinned });
  await crypto.ready;
  const servers = [tether, oidc];
  const results = {};
  /** Redemption's warm-up by server: the cold figure, printed beside the timed rounds. */
  const cold = new Map();
  try {
    for (const server of servers) await preflight(server, { clientId: CLIENT_ID, keys });

    // --- The constant route and the signatures: the parts of every ceiling, measured between the servers' rounds.
    const ceilingParts = async () => {
      const c = await constantRoute(constant, { ...LOAD, duration: SECONDS });
      const s = await crypto.measure(SECONDS);
      return { constant: c, sign: s.sign.perCpuSecond, verify: s.verify.perCpuSecond, signWall: s.sign.rate, verifyWall: s.verify.rate };
    };
    await constantRoute(constant, { ...LOAD, duration: WARMUP_SECONDS });
    const parts = [await ceilingParts()];

    // --- Device authorization; the codes it makes are the ones polled next.
    let devices = 0;
    if (wanted('deviceAuthorization', 'poll')) {
      const rings = new Map(servers.map((s) => [s, new CodeRing(DEVICES)]));
      for (const s of servers) await deviceAuthorizations(s, { ...LOAD, clientId: CLIENT_ID, codes: rings.get(s), duration: WARMUP_SECONDS });
      results.deviceAuthorization = await alternate(servers, 'device authorization', (s) =>
        deviceAuthorizations(s, { ...LOAD, clientId: CLIENT_ID, codes: rings.get(s), duration: SECONDS }),
      );
      for (const s of servers) {
        const ring = rings.get(s);
        if (ring.items.length < DEVICES) {
          await deviceAuthorizations(s, { ...LOAD, clientId: CLIENT_ID, codes: ring, amount: DEVICES - ring.items.length, maxSeconds: TOP_UP_SECONDS });
        }
      }
      parts.push(await ceilingParts());

      // --- Pending polls with DPoP, over the same number of codes at both.
      devices = Math.min(...servers.map((s) => rings.get(s).items.length));
      const feeds = new Map(servers.map((s) => [s, new PollFeed({ clientId: CLIENT_ID, codes: rings.get(s).items.slice(0, devices) })]));
      const sign = (s, count) => {
        const feed = feeds.get(s);
        return signProofs({ keys, htu: s.endpoints.token, from: feed.cursor, count, devices: feed.devices, devicesPerKey: DEVICES_PER_KEY });
      };
      results.poll = await timedPolls(servers, 'pending poll (DPoP)', feeds, sign);
      parts.push(await ceilingParts());
    }

    // --- Pending polls of codes bound to their device's key at device authorization (a proof sent there): each
    // code polled on its interval, so its signature is never needed (the pacer would check it for a poll too soon).
    // oidc-provider does not bind at its device endpoint; its codes
    // are polled the same way.
    if (wanted('boundPoll')) {
      const boundKeys = Array.from({ length: 50 }, () => proofKey());
      const bound = new Map();
      for (const s of servers) bound.set(s, await startDevices(s, { clientId: CLIENT_ID, count: BOUND_DEVICES, keys: boundKeys, bind: true }));
      const feeds = new Map(servers.map((s) => [s, new PollFeed({ clientId: CLIENT_ID, codes: bound.get(s).map((d) => d.deviceCode) })]));
      const sign = async (s, count) => signDeviceProofs({ devices: bound.get(s), htu: s.endpoints.token, from: feeds.get(s).cursor, count });
      results.boundPoll = await timedPolls(servers, 'pending poll, bound code', feeds, sign);
    }

    if (wanted('redemption', 'refresh', 'introspection')) {
      // --- Redemption: codes started (untimed), approved (untimed: Tether through its pages), then redeemed.
      const deviceKeys = Array.from({ length: 64 }, () => proofKey());
      const approved = new Map();
      for (const s of servers) {
        const started = performance.now();
        const ring = new CodeRing(REDEEM_WARMUP + REDEEM * ROUNDS);
        await deviceAuthorizations(s, { ...LOAD, clientId: CLIENT_ID, codes: ring, amount: REDEEM_WARMUP + REDEEM * ROUNDS, maxSeconds: 60, withUserCode: true });
        const list = ring.items.map((c, i) => ({ ...c, key: deviceKeys[i % deviceKeys.length] }));
        await approveAll(s, list.map((d) => d.userCode));
        approved.set(s, list);
        log(`  ${s.name}: ${int(list.length)} device codes started and approved in ${((performance.now() - started) / 1000).toFixed(1)} s (not timed)`);
      }
      const chains = new Map(servers.map((s) => [s, []]));
      const redeem = (s, from, count) =>
        redemptions(s, { ...LOAD, clientId: CLIENT_ID, devices: approved.get(s).slice(from, from + count), chains: chains.get(s), maxSeconds: 60 });
      // One server at a time, as in the rounds: they share the server core.
      if (REDEEM_WARMUP > 0) for (const s of servers) cold.set(s, await redeem(s, 0, REDEEM_WARMUP));
      results.redemption = await alternate(servers, 'redemption', (s, r) => redeem(s, REDEEM_WARMUP + r * REDEEM, REDEEM));
      parts.push(await ceilingParts());

      for (const s of servers) {
        const run = results.redemption.get(s);
        if (chains.get(s).length < 2 * LOAD.connections) {
          throw new Error(`${s.name}: only ${chains.get(s).length} redemptions succeeded: ${detail(s.name, run)}`);
        }
      }

      // --- Refresh along the chains the redemptions started (each rotates: a new refresh token per answer).
      if (wanted('refresh', 'introspection')) {
        results.refresh = await alternate(servers, 'refresh', (s) => refreshes(s, { ...LOAD, clientId: CLIENT_ID, chains: chains.get(s), duration: SECONDS }));
      }

      // --- Introspection by the resource server of the latest tokens: Tether's access tokens (a JWT whose signature
      // it checks, then its grant); oidc-provider refuses to introspect its JWT access tokens ("Structured JWT Tokens
      // cannot be introspected"), so there it is the refresh tokens, an in-memory lookup with no signature at all.
      if (wanted('introspection')) results.introspection = await alternate(servers, 'introspection', (s) =>
        introspections(s, {
          ...LOAD,
          client: INTROSPECTOR,
          tokens: chains.get(s).slice(-1_000).map((c) => (s === tether ? c.access : c.refresh)),
          duration: SECONDS,
        }),
      );
      parts.push(await ceilingParts());
    }

    report(results, parts, { tether, oidc, devices, cold });
    if (profiled.length > 0) {
      log();
      log(`Where Tether's CPU went, share of its busy time per phase (profiles in ${PROFILE_DIR}; bench/profile-breakdown.mjs):`);
      log(breakdownTable(profiled));
    }
  } finally {
    for (const s of [...servers, constant, crypto]) await s.stop().catch(() => undefined);
  }
}

function report(results, parts, { tether, oidc, devices, cold }) {
  const R_const = best(parts.map((p) => p.constant));
  const R_sign = Math.max(...parts.map((p) => p.sign));
  const R_verify = Math.max(...parts.map((p) => p.verify));
  // The signatures each path cannot avoid: a DPoP proof to verify wherever one is sent, an access token to sign
  // wherever one is issued, an access token's signature to check at introspection.
  const unavoidable = {
    deviceAuthorization: { verify: 0, sign: 0 },
    // A pending answer needs no signature check: an unbound code's is the same whoever signed, and a bound code's
    // signature is checked only when pacing depends on it, never for a device on its interval (docs/architecture.md,
    // "A pending poll's proof").
    poll: { verify: 0, sign: 0 },
    boundPoll: { verify: 0, sign: 0 },
    redemption: { verify: 1, sign: 1 },
    refresh: { verify: 1, sign: 1 },
    introspection: { verify: 1, sign: 0 },
  };
  const ceilingOf = ({ verify, sign }) => 1 / (1 / R_const.perCpuSecond + verify / R_verify + sign / R_sign);
  const labels = {
    deviceAuthorization: 'device authorization',
    poll: 'pending poll with DPoP (unbound code)',
    boundPoll: 'pending poll with DPoP (bound code)',
    redemption: 'redemption (token issuance)',
    refresh: 'refresh (rotation)',
    introspection: 'introspection',
  };

  log();
  log('Details (the best round of each; valid = the right status and body shape, anything else fails the bench):');
  for (const [path, byServer] of Object.entries(results)) {
    for (const [server, run] of byServer) log(detail(`${server.name} ${labels[path]}`, run));
  }
  for (const [server, run] of cold) log(detail(`${server.name} redemption, warm-up (cold, untimed)`, run));
  log(detail('node:http constant route', R_const));
  log();
  log(
    `Ceiling parts, best window: node:http constant route ${int(R_const.perCpuSecond)} req/CPU-s (${int(R_const.rate)} req/s); ` +
      `ES256 sign ${int(R_sign)}/CPU-s, ES256 verify ${int(R_verify)}/CPU-s (node:crypto alone)`,
  );
  log('Ceiling of a path = 1 / (1/R_const + verifies/R_verify + signs/R_sign): the signatures it cannot avoid on a constant route.');
  log();
  const rows = [['path', 'Tether req/CPU-s', 'Tether req/s', 'oidc-provider req/CPU-s', 'ratio', 'target', 'ceiling req/CPU-s', 'of ceiling', 'oidc of ceiling']];
  const verdicts = [];
  for (const [path, byServer] of Object.entries(results)) {
    const t = byServer.get(tether);
    const o = byServer.get(oidc);
    const ratio = t.perCpuSecond / o.perCpuSecond;
    const ceiling = ceilingOf(unavoidable[path]);
    const target = TARGETS[path];
    if (target) verdicts.push(`${labels[path]} ${ratio.toFixed(2)}× (target ≥ ${target}×: ${ratio >= target ? 'met' : 'NOT met'})`);
    rows.push([
      labels[path],
      int(t.perCpuSecond),
      int(t.rate),
      int(o.perCpuSecond),
      `${ratio.toFixed(2)}×`,
      target ? `≥ ${target}×` : '—',
      int(ceiling),
      `${(t.perCpuSecond / ceiling).toFixed(2)}`,
      `${(o.perCpuSecond / ceiling).toFixed(2)}`,
    ]);
  }
  log(table(rows));
  log();
  for (const [path, live] of [['poll', devices], ['boundPoll', BOUND_DEVICES]]) {
    if (!results[path]) continue;
    const poll = results[path].get(tether);
    const fraction = SCENARIO_POLLS_PER_SECOND / poll.perCpuSecond;
    log(
      `10,000 devices polling every 5 s (${labels[path]}) = ${int(SCENARIO_POLLS_PER_SECOND)} polls/s ÷ ${int(poll.perCpuSecond)} per CPU-second` +
        ` = ${fraction.toFixed(3)} of one core; target < ${TARGETS.pollCoreFraction}: ${fraction < TARGETS.pollCoreFraction ? 'met' : 'NOT met'}` +
        ` (by wall clock: ${(SCENARIO_POLLS_PER_SECOND / poll.rate).toFixed(3)}; ${int(live)} live codes)`,
    );
  }
  const refresh = results.refresh?.get(tether);
  if (refresh) log(
    `Refresh: ${int(refresh.perCpuSecond)} grants per CPU-second, ${(refresh.perCpuSecond / KEYCLOAK_REFRESH_PER_VCPU).toFixed(0)}× Keycloak's published ` +
      `${KEYCLOAK_REFRESH_PER_VCPU} per vCPU (a published sizing figure, not measured here)`,
  );
  const [coldTether, coldOidc] = [cold.get(tether), cold.get(oidc)];
  if (coldTether && coldOidc) log(
    `Redemption cold (its ${int(REDEEM_WARMUP)}-code warm-up, before the rounds): Tether ${int(coldTether.perCpuSecond)} per CPU-s, ` +
      `oidc-provider ${int(coldOidc.perCpuSecond)}, ${(coldTether.perCpuSecond / coldOidc.perCpuSecond).toFixed(2)}× (not a target; the rounds above are)`,
  );
  for (const v of verdicts) log(`  ${v}`);

  const all = Object.entries(results).flatMap(([path, byServer]) => [...byServer].flatMap(([s, run]) => run.rounds.map((r) => [`${s.name} ${labels[path]}`, r])));
  all.push(...parts.map((p) => ['node:http constant route', p.constant]));
  all.push(...[...cold].map(([s, run]) => [`${s.name} redemption warm-up`, run]));
  const bad = all.flatMap(([name, run]) => problems(name, run));
  const suspect = all.flatMap(([name, run]) => warnings(name, run));
  for (const w of new Set(suspect)) log(`WARNING ${w}`);
  for (const p of bad) log(`INVALID ${p}`);
  // Missing a target is a result, not a failure; a run with a single wrong answer is.
  if (bad.length > 0) {
    log('FAILED: some answers were not the valid answer (see INVALID above)');
    process.exitCode = 1;
  }
}

await main();
