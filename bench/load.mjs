// The load side: autocannon (programmatic) with every response classified, so only answers of the expected kind
// count toward a rate and a misconfigured run shows up as "unexpected" instead of as a fast one.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { freshProof, tokenResponse } from './flows.mjs';
import { DEVICE_CODE_GRANT } from './servers.mjs';

const FORM = 'application/x-www-form-urlencoded';

let nextAddress = 0;
/**
 * The device's address as a proxy in front of the server names it (X-Forwarded-For): a million addresses in turn
 * (10.0.0.0/12), so per-address limits see a fleet, not one host. Tether trusts it from loopback only (the bench
 * config's listen.trusted_proxies); oidc-provider ignores it.
 */
export function deviceAddress() {
  const n = nextAddress++ % 1_048_576;
  return `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
}
const USER_AGENT = 'tether-bench/1 (autocannon)';

/**
 * Counts responses: `valid` ones, and the rest by "status error" with a few sample bodies each. Responses after
 * `deadline` (still in flight when a timed run ends) are not counted, so a rate is counts / the exact window.
 */
class Tally {
  constructor(isValid) {
    this.isValid = isValid;
    this.deadline = Infinity;
    this.valid = 0;
    this.other = new Map();
    /** When the last counted response arrived (performance.now()). */
    this.lastAt = undefined;
  }

  record(status, body) {
    const at = performance.now();
    if (this.deadline !== Infinity && at > this.deadline) return;
    this.lastAt = at;
    if (this.isValid(status, body)) {
      this.valid++;
      return;
    }
    const error = /"error":"([^"]*)"/.exec(body)?.[1] ?? '';
    const kind = `${status} ${error}`.trim();
    const entry = this.other.get(kind) ?? { count: 0, samples: [] };
    entry.count++;
    if (entry.samples.length < 2) entry.samples.push(body.slice(0, 300));
    this.other.set(kind, entry);
  }

  get unexpected() {
    let n = 0;
    for (const { count } of this.other.values()) n += count;
    return n;
  }
}

/**
 * CPU-seconds all processes on the machine have used (user + nice + system + steal, from /proc/stat), or NaN.
 * Minus what the server and this process used, it shows whether other work competed with the benchmark.
 */
function machineCpuSeconds() {
  try {
    const [user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + steal) / 100;
  } catch {
    return NaN;
  }
}

/**
 * One autocannon run against `server`. A timed run is measured over exactly its duration; CPU use of the server
 * (to show it was the saturated side) and of this process (to show the load generator was not) over the same
 * window.
 */
async function drive(server, options, request, tally) {
  const sample = () => ({ at: performance.now(), server: server.cpuSeconds(), load: process.cpuUsage(), machine: machineCpuSeconds() });
  const start = sample();
  let end;
  let timer;
  if (options.duration) {
    tally.deadline = start.at + options.duration * 1000;
    timer = setTimeout(() => (end = sample()), options.duration * 1000);
  }
  // maxSeconds bounds a run of `amount` requests, so a slow server cannot stretch the bench without limit.
  const { maxSeconds, ...cannon } = options;
  const tracker = autocannon({ url: server.origin, timeout: 10, ...cannon, requests: [request] });
  const cap = maxSeconds ? setTimeout(() => tracker.stop(), maxSeconds * 1000) : undefined;
  const result = await tracker;
  clearTimeout(timer);
  clearTimeout(cap);
  end ??= sample();
  // A run of `amount` requests ends at its last answer: autocannon reports done only at its next one-second tick,
  // which would add up to a second of idle to the wall clock and the shares below. CPU is still read at the end,
  // so work the requests left behind (a WAL checkpoint, say) counts against the server.
  const seconds = options.duration || tally.lastAt === undefined ? (end.at - start.at) / 1000 : (tally.lastAt - start.at) / 1000;
  const loadCpuSeconds = (end.load.user - start.load.user + end.load.system - start.load.system) / 1e6;
  const serverCpuSeconds = end.server - start.server;
  return {
    seconds,
    total: tally.valid + tally.unexpected,
    slowDown: tally.slowDown,
    valid: tally.valid,
    rate: tally.valid / seconds,
    unexpected: tally.unexpected,
    other: tally.other,
    errors: result.errors + result.timeouts,
    latency: { p50: result.latency.p50, p99: result.latency.p99 },
    serverCpu: serverCpuSeconds / seconds,
    // Valid answers per CPU-second the server actually got: robust when other work shares the server's core.
    perCpuSecond: tally.valid / serverCpuSeconds,
    loadCpu: loadCpuSeconds / seconds,
    // Cores' worth of CPU that other processes used meanwhile; ~0 on an otherwise idle machine.
    otherCpu: (end.machine - start.machine - serverCpuSeconds - loadCpuSeconds) / seconds,
  };
}

/**
 * POST device_authorization with just client_id (RFC 8628 §3.1). Device codes from successful answers go into
 * `codes` (a ring of the most recent `codes.size`), to be polled later.
 */
export function deviceAuthorizations(server, { clientId, codes, withUserCode = false, ...options }) {
  const tally = new Tally((status, body) => status === 200 && body.includes('"device_code":"') && body.includes('"user_code":"') && body.includes('"expires_in":'));
  const path = new URL(server.endpoints.deviceAuthorization).pathname;
  const request = {
    method: 'POST',
    path,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    body: `client_id=${encodeURIComponent(clientId)}`,
    setupRequest(req) {
      req.headers['x-forwarded-for'] = deviceAddress();
      return req;
    },
    onResponse(status, body) {
      tally.record(status, body);
      if (status !== 200) return;
      const deviceCode = /"device_code":"([^"]+)"/.exec(body)?.[1];
      if (withUserCode) codes?.add(deviceCode && { deviceCode, userCode: /"user_code":"([^"]+)"/.exec(body)?.[1] });
      else codes?.add(deviceCode);
    },
  };
  return drive(server, options, request, tally);
}

/** The most recent `size` device codes seen. */
export class CodeRing {
  constructor(size) {
    this.size = size;
    this.items = [];
    this.next = 0;
  }

  add(code) {
    if (!code) return;
    if (this.items.length < this.size) this.items.push(code);
    else this.items[this.next] = code;
    this.next = (this.next + 1) % this.size;
  }
}

/** The device_code grant's form (RFC 8628 §3.4) up to the code, which each request appends URL-encoded. */
function deviceCodeForm(clientId) {
  return `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}&client_id=${encodeURIComponent(clientId)}&device_code=`;
}

/**
 * Round-robin pending polls over a fixed set of device codes, each request with the next unused DPoP proof.
 * The cursor persists across runs (warm-up, then measurement) so no code is polled again too soon.
 */
export class PollFeed {
  constructor({ clientId, codes }) {
    this.devices = codes.length;
    const prefix = deviceCodeForm(clientId);
    this.bodies = codes.map((code) => prefix + encodeURIComponent(code));
    this.cursor = 0;
    this.pool = [];
    this.poolStart = 0;
    this.exhausted = 0;
  }

  /** Installs proofs signed for request numbers starting at the current cursor. */
  load(proofs) {
    this.pool = proofs;
    this.poolStart = this.cursor;
    this.exhausted = 0;
  }

  next() {
    const k = this.cursor++;
    let proof = this.pool[k - this.poolStart];
    if (proof === undefined) {
      // Out of fresh proofs: resend an old one. Servers must reject a replay, so this shows up as unexpected.
      this.exhausted++;
      proof = this.pool[(k - this.poolStart) % this.pool.length];
    }
    return { body: this.bodies[k % this.devices], proof };
  }
}

/**
 * Round-robin polls over `devices` ({ deviceCode, key }), each proof signed by the device's key as its poll goes
 * out: for fixed low rates (bench/scaling.mjs), where signing on the load side caps nothing.
 */
export class LiveProofFeed {
  constructor({ clientId, devices, htu }) {
    const prefix = deviceCodeForm(clientId);
    this.bodies = devices.map((d) => prefix + encodeURIComponent(d.deviceCode));
    this.devices = devices;
    this.htu = htu;
    this.cursor = 0;
  }

  next() {
    const k = this.cursor++ % this.devices.length;
    return { body: this.bodies[k], proof: freshProof(this.devices[k].key, this.htu) };
  }
}

/**
 * POST token with the device_code grant and a DPoP proof from `feed`; only authorization_pending and slow_down
 * count as valid, and slow_down is also counted apart (the report warns when codes were polled too fast: another
 * path). The same for codes bound to a key: Tether checks such a proof's signature only when pacing depends on it
 * (a poll too soon; docs/architecture.md, "A pending poll's proof").
 */
export function pendingPolls(server, feed, options) {
  const tally = new Tally(
    (status, body) => status === 400 && (body.includes('"authorization_pending"') || body.includes('"slow_down"')),
  );
  tally.slowDown = 0;
  const record = tally.record.bind(tally);
  tally.record = (status, body) => {
    if (body.includes('"slow_down"')) tally.slowDown++;
    record(status, body);
  };
  const request = {
    method: 'POST',
    path: new URL(server.endpoints.token).pathname,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    setupRequest(req) {
      const { body, proof } = feed.next();
      req.body = body;
      req.headers.DPoP = proof;
      return req;
    },
    onResponse: (status, body) => tally.record(status, body),
  };
  return drive(server, options, request, tally);
}

/**
 * Redeems approved device codes, each once, each with a fresh proof by its device's key; every valid answer (200,
 * DPoP access token, refresh token) becomes a refresh chain in `chains`.
 */
export function redemptions(server, { clientId, devices, chains, ...options }) {
  const tally = new Tally((status, body) => {
    const tokens = tokenResponse(status, body);
    return tokens !== undefined;
  });
  const prefix = deviceCodeForm(clientId);
  let next = 0;
  const request = {
    method: 'POST',
    path: new URL(server.endpoints.token).pathname,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    setupRequest(req, context) {
      const device = devices[next++ % devices.length];
      context.device = device;
      req.body = prefix + encodeURIComponent(device.deviceCode);
      req.headers.DPoP = freshProof(device.key, server.endpoints.token);
      return req;
    },
    onResponse(status, body, context) {
      tally.record(status, body);
      const tokens = tokenResponse(status, body);
      if (tokens) chains.push({ ...tokens, key: context.device.key });
    },
  };
  return drive(server, { ...options, amount: options.amount ?? devices.length }, request, tally);
}

/**
 * Refreshes along rotating chains: each request takes the chain at the front, sends its current refresh token with
 * a fresh proof by the chain's key, and puts the chain back with the new token from the answer. A chain is in
 * flight on one connection at a time, so no token is ever sent twice (a reuse would revoke its grant).
 */
export function refreshes(server, { clientId, chains, ...options }) {
  const tally = new Tally((status, body) => tokenResponse(status, body) !== undefined);
  const prefix = `grant_type=refresh_token&client_id=${encodeURIComponent(clientId)}&refresh_token=`;
  const request = {
    method: 'POST',
    path: new URL(server.endpoints.token).pathname,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    setupRequest(req, context) {
      const chain = chains.shift();
      if (!chain) throw new Error('refresh: no chain free; more chains than connections are needed');
      context.chain = chain;
      req.body = prefix + encodeURIComponent(chain.refresh);
      req.headers.DPoP = freshProof(chain.key, server.endpoints.token);
      return req;
    },
    onResponse(status, body, context) {
      tally.record(status, body);
      const tokens = tokenResponse(status, body);
      if (tokens) chains.push({ ...tokens, key: context.chain.key });
    },
  };
  return drive(server, options, request, tally);
}

/** Introspects access tokens round-robin as a resource server (client_secret_basic); valid: 200 and active. */
export function introspections(server, { client, tokens, ...options }) {
  const tally = new Tally((status, body) => status === 200 && body.includes('"active":true') && body.includes('"sub":'));
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  let next = 0;
  const request = {
    method: 'POST',
    path: new URL(server.endpoints.introspection).pathname,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT, authorization },
    setupRequest(req) {
      req.body = `token=${encodeURIComponent(tokens[next++ % tokens.length])}`;
      return req;
    },
    onResponse: (status, body) => tally.record(status, body),
  };
  return drive(server, options, request, tally);
}

/** The constant node:http route, with a body the size of a poll's. */
export function constantRoute(server, options) {
  const tally = new Tally((status, body) => status === 200 && body.includes('authorization_pending'));
  const request = {
    method: 'POST',
    path: '/',
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    body: `grant_type=${encodeURIComponent(DEVICE_CODE_GRANT)}&client_id=bench-device&device_code=${'x'.repeat(43)}`,
    onResponse: (status, body) => tally.record(status, body),
  };
  return drive(server, options, request, tally);
}

/**
 * POST token with a pre-made form body and DPoP proof per request, each used once (`pool.exhausted` counts
 * requests that had to reuse one, which the server must refuse); only 200s count. For token exchange and the
 * JWT bearer grant (docs/workloads.md), whose subject tokens, assertions and proofs are all single-use.
 */
export function singleUseTokenRequests(server, pool, options) {
  const tally = new Tally((status) => status === 200);
  const request = {
    method: 'POST',
    path: new URL(server.endpoints.token).pathname,
    headers: { 'content-type': FORM, 'user-agent': USER_AGENT },
    setupRequest(req) {
      const k = pool.cursor++;
      if (k >= pool.items.length) pool.exhausted++;
      const item = pool.items[k % pool.items.length];
      req.body = item.body;
      req.headers.DPoP = item.proof;
      return req;
    },
    onResponse: (status, body) => tally.record(status, body),
  };
  return drive(server, options, request, tally);
}

