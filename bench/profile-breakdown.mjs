// Where a path's server CPU goes, by part (the breakdown: parsing, framework, SQLite, audit hashing,
// policy, logging, beside signatures and node:http itself), from a V8 .cpuprofile of one timed phase.
//
// `node bench/profile-breakdown.mjs DIR/*.cpuprofile` prints one table; `npm run bench` with BENCH_PROFILE=DIR
// writes the profiles (bench/profiler.mjs). Each sample is charged to the first part found walking its stack from
// the leaf up, so a native frame (better-sqlite3's Statement.run and node:crypto's one-shot sign/verify share the
// name `run`) goes to whoever called it. Sampling is at 200 µs; idle samples are left out of the shares.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { table } from './report.mjs';

/** Parts in the order they are tried at each frame; the first whose test matches the frame takes the sample. */
const PARTS = [
  ['signatures', (f) => /^(verifyOneShot|signOneShot|SignJob)$/.test(f.functionName)],
  ['audit hashing', (f) => /\/audit\/hash-chain\.js$/.test(f.url) || (/^(chainedRow|chainEvent)$/.test(f.functionName) && /audit-log\.js$/.test(f.url))],
  ['policy', (f) => /\/(policy|policy-gate)\/[^/]+\.js$/.test(f.url) || /cedar/.test(f.url)],
  ['logging', (f) => /node_modules\/pino|\/logging\/|request-logger\.js$/.test(f.url)],
  ['SQLite', (f) => /better-sqlite3|\/storage\/|kysely/.test(f.url)],
  ['parsing', (f) => /form-body\.js$|form-params\.js$|content-type-parser\.js$|\/dpop\/jws\.js$|compact-jws\.js$/.test(f.url)],
  ['framework (Fastify)', (f) => /node_modules\/(fastify|find-my-way|avvio|@fastify|fast-json-stringify|light-my-request)/.test(f.url)],
  ['metrics', (f) => /prom-client/.test(f.url)],
  ['node:http and sockets', (f) => /^node:(_http|net|internal\/streams|internal\/stream_base|events)/.test(f.url) || f.functionName === 'writev' || f.functionName === 'writeUtf8String'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  // Last: a frame of Tether's own that none of the parts above claims stops the walk, so its time is not charged
  // to the framework or node:http frames that called it.
  ['Tether code (the rest)', (f) => /\/dist\//.test(f.url)],
];
const OTHER = 'Node and V8 internals';

export function breakdown(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const charged = new Map();
  let busy = 0;
  const partOf = new Map();
  const part = (id) => {
    if (partOf.has(id)) return partOf.get(id);
    let found = OTHER;
    // The native `run` of better-sqlite3 and of node:crypto's one-shot sign/verify look alike, and V8 may inline the
    // JS frames between (verifyJws into Tether's caller): the first caller with a file says which it is.
    if (byId.get(id).callFrame.functionName === 'run' && byId.get(id).callFrame.url === '') {
      let caller = parent.get(id);
      while (caller !== undefined && byId.get(caller).callFrame.url === '') caller = parent.get(caller);
      const url = caller === undefined ? '' : byId.get(caller).callFrame.url;
      found = /better-sqlite3|\/storage\//.test(url) ? 'SQLite' : 'signatures';
      partOf.set(id, found);
      return found;
    }
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur).callFrame;
      const hit = PARTS.find(([, test]) => test(frame));
      if (hit) {
        found = hit[0];
        break;
      }
    }
    partOf.set(id, found);
    return found;
  };
  for (const id of profile.samples) {
    const name = byId.get(id).callFrame.functionName;
    if (name === '(idle)' || name === '(program)') continue;
    busy++;
    const p = part(id);
    charged.set(p, (charged.get(p) ?? 0) + 1);
  }
  return { busy, shares: new Map([...PARTS.map(([p]) => p), OTHER].map((p) => [p, (charged.get(p) ?? 0) / Math.max(busy, 1)])) };
}

/** One table: a column per profile (phase), a row per part, the share of the server's busy CPU. */
export function breakdownTable(files) {
  const results = files.map((f) => [basename(f, '.cpuprofile'), breakdown(JSON.parse(readFileSync(f, 'utf8')))]);
  const parts = [...results[0][1].shares.keys()];
  return table([
    ['part', ...results.map(([name]) => name)],
    ...parts.map((p) => [p, ...results.map(([, r]) => `${(100 * r.shares.get(p)).toFixed(1)}%`)]),
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node bench/profile-breakdown.mjs PROFILE.cpuprofile...\n');
    process.exit(2);
  }
  process.stdout.write(`${breakdownTable(files)}\n`);
}
