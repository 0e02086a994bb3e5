// `node bench/scaling.mjs` (after `npm run build`): cost per request as the work held grows, with memory.
//
//  1. Pending polls (real binary, HTTP, a fresh DPoP proof each, a fixed 450 polls/s) with 1,000 to 100,000 live device codes, one
//     server per size. The codes are written straight into its SQLite file (synthetic rows, no audit events) while it runs, and each
//     polled once before the windows (as a server's devices would have); the polls go through the server as usual. Server CPU per poll (the best of 5 windows, the sizes in alternation) and server RSS per size.
//  2. The audit log from 10^4 to 10^7 events (populating 10^7 takes several minutes here;
//     BENCH_SCALING_AUDIT_MAX=1000000 stops at 10^6): the chain is built with the server's own chainedRow and written by a direct insert, then the
//     cost of one more append (through the server's group commit, one event per commit; the best of 5 windows of
//     2,000) and of verifying the whole chain, per event.
//  3. Revocation statements held by a guard, 10 to 100,000: CPU per guard check (DPoP token, fresh proof, policy
//     off) and heap.
//  4. Live grants from 1,000 to 100,000: a refresh's storage work through the server's own SQLite stores and
//     checkpoint thread (read the refresh token and the grant, rotate with its audit event, four refreshes to a
//     commit), the grants visited in a scattered order. CPU per refresh (the best of 5 windows) and RSS. Not a
//     target of its own: it shows what the page cache costs as the database grows (storage/sqlite.ts).
// Each table's last column is the cost relative to its smallest size: flat is within ±20%.
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { proofKey } from './flows.mjs';
import { LiveProofFeed, pendingPolls } from './load.mjs';
import { table } from './report.mjs';
import { setUpPinning, startTether } from './servers.mjs';

const ROOT = join(import.meta.dirname, '..');
const dist = (path) => import(pathToFileURL(join(ROOT, 'dist', path)).href);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const SECONDS = env('BENCH_SCALING_SECONDS', 8);
// Windows per size; the best counts, as in bench/run.mjs. At a fixed 450 polls/s the server is mostly idle, so a
// GC cycle or a checkpoint landing in one window moved a single window's CPU per poll by 20-30%; with 3 windows
// the best of one size still came out 10-20% off the others' on a busy host, with 5 within 10%.
const POLL_WINDOWS = env('BENCH_SCALING_POLL_WINDOWS', 5);
const AUDIT_MAX = env('BENCH_SCALING_AUDIT_MAX', 10_000_000);
const APPEND_WINDOWS = 5;
const APPENDS = 2_000;
const CLIENT_ID = 'bench-device';
const POLL_RATE = 450;
const log = (line = '') => process.stdout.write(`${line}\n`);
const int = (n) => Math.round(n).toLocaleString('en-US');
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
const cpuMicros = (since) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};
const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
const relative = (rows, column) => rows.map((r) => [...r, `${(r[column] / rows[0][column]).toFixed(2)}×`]);

async function polls(pinned) {
  const sizes = [1_000, 10_000, 100_000];
  // One server per size, all alive at once and measured in alternation (a window each per round, the order
  // turned each round), the best window of each counting, as bench/run.mjs and bench/guard-bench.mjs do: measured
  // one size after the other, a machine that slows down during the run (a shared host's does) reads as cost
  // growing with size.
  const runs = [];
  try {
    for (const size of sizes) runs.push(await pollingServer(size, pinned));
    const windows = sizes.map(() => []);
    for (let w = 0; w < POLL_WINDOWS; w++) {
      for (let k = 0; k < sizes.length; k++) {
        const i = (k + w) % sizes.length;
        const { server, load, size } = runs[i];
        const window = await pendingPolls(server, load.feed, { ...load.options, duration: SECONDS });
        if (window.unexpected > 0) throw new Error(`polls at ${size} codes: ${window.unexpected} unexpected answers: ${JSON.stringify([...window.other])}`);
        if (window.slowDown > 0) log(`  (${int(size)} codes: ${int(window.slowDown)} of ${int(window.total)} answers were slow_down)`);
        windows[i].push(window);
      }
    }
    const rows = runs.map(({ server, size }, i) => {
      const best = windows[i].reduce((a, b) => (b.perCpuSecond > a.perCpuSecond ? b : a));
      return [int(size), int(best.perCpuSecond), (1e6 / best.perCpuSecond).toFixed(1), int(best.rate), mb(rssOf(server.pid)), 1e6 / best.perCpuSecond];
    });
    log(`Pending polls (unbound codes, a fresh ES256 proof each, ${POLL_RATE} polls/s at every size, one server per size, best of ${POLL_WINDOWS} windows of ${SECONDS} s taken in alternation) vs live device codes`);
    log(table([['live codes', 'polls/CPU-s', 'µs CPU/poll', 'polls/s', 'server RSS', 'µs vs smallest'], ...relative(rows, 5).map((r) => [...r.slice(0, 5), r[6]])]));
    log();
  } finally {
    for (const { server } of runs) await server.stop();
  }
}

/** A server holding `size` live device codes, warmed up; `load` polls every one of them round-robin. */
async function pollingServer(size, pinned) {
  const server = await startTether({ clientId: CLIENT_ID, pinned });
  const db = new Database(join(server.dataDir, 'tether.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare(
      `insert into device_authorizations (id, device_code_hash, user_code, client_id, scope, resource, requester_ip, requester_user_agent,
        dpop_jkt, environment, interval, created_at, expires_at, status) values (?, ?, ?, ?, 'read', 'https://api.bench.example', '127.0.0.1', 'bench', null, null, 1, ?, ?, 'pending')`,
    );
    const keys = Array.from({ length: 20 }, () => proofKey());
    const now = Math.floor(Date.now() / 1000);
    // A device code names its row (device-flow/device-code.ts): `<row id>.<secret>`, the row holding its hash.
    const codes = (count, id) =>
      db.transaction(() =>
        Array.from({ length: count }, (_, i) => {
          const rowId = id(i);
          const code = `${rowId}.${randomBytes(32).toString('base64url')}`;
          insert.run(rowId, createHash('sha256').update(code).digest('base64url'), randomBytes(8).toString('hex').toUpperCase(), CLIENT_ID, now, now + 1800);
          return { deviceCode: code, key: keys[i % keys.length] };
        }),
      )();
    // JIT warm-up at full speed on codes of their own, deleted before the measurements begin.
    const warm = new LiveProofFeed({ clientId: CLIENT_ID, devices: codes(2_000, (i) => `warm-${i}`), htu: server.endpoints.token });
    await pendingPolls(server, warm, { connections: 32, pipelining: 1, duration: 4 });
    db.prepare("delete from device_authorizations where id like 'warm-%'").run();
    const devices = codes(size, () => randomUUID());
    // Polls round-robin over every live code at one fixed rate for every size, below 500/s so that even the
    // smallest set is polled at most every 2 s, never faster than its interval (1 s; a faster poll is answered slow_down, another path).
    const load = { feed: new LiveProofFeed({ clientId: CLIENT_ID, devices, htu: server.endpoints.token }), options: { connections: 8, pipelining: 1, overallRate: POLL_RATE } };
    // Every code polled once at full speed first: the state of a server whose devices poll (each code is then held
    // in memory: storage/pending-requests.ts). Rows written behind its back, as here, are otherwise first read
    // at their first poll, which at 450 polls/s over 100,000 codes would be every poll of a window. Then a pause
    // past the 1 s interval, so that no code's next poll is too soon.
    await pendingPolls(server, load.feed, { connections: 32, pipelining: 1, amount: size });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await pendingPolls(server, load.feed, { ...load.options, duration: 1 });
    return { server, load, size };
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Statements that write audit events (rows from the server's own chainedRow) and the chain's head straight to the
 * tables: setup only, never timed.
 */
function directChainStatements(raw, chainedRow) {
  const columns = Object.keys(chainedRow({ type: 'admin.action', at: 0, data: {} }, 0, 'x', null));
  return {
    insert: raw.prepare(`insert into audit_events (${columns.join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')})`),
    head: raw.prepare('insert into audit_head (id, seq, hash) values (1, @seq, @hash) on conflict (id) do update set seq = excluded.seq, hash = excluded.hash'),
  };
}

async function auditLog() {
  const { openSqliteHandle } = await dist('storage/sqlite.js');
  const { chainedRow, auditEventFromRow } = await dist('storage/audit-log.js');
  const { sqliteFastPaths } = await dist('storage/sqlite-fast-paths.js');
  const { eventHash } = await dist('audit/hash-chain.js');
  const { uuidv7 } = await dist('shared/ids.js');
  const dir = mkdtempSync(join(tmpdir(), 'tether-scaling-audit-'));
  const rows = [];
  try {
    const sqlite = await openSqliteHandle({ dataDir: join(dir, 'data'), synchronous: 'normal' });
    const { raw } = sqlite;
    const { insert, head } = directChainStatements(raw, chainedRow);
    const fast = sqliteFastPaths(sqlite);
    let seq = 0;
    let hash = 'tether-audit-genesis';
    // Each of 5,000 grants begins with its issuance, then introspections pile up on it (a resource server asking
    // per request): a grant holds 2 to 2,000 events across the sizes.
    const event = (i) => ({
      type: i < 5_000 ? 'token.issued' : 'token.introspected',
      at: 1_700_000_000 + Math.floor(i / 1000),
      clientId: 'bench-rs',
      grantId: `grant-${i % 5000}`,
      // Access-token jtis are UUIDv7 (time-ordered) in the product, so the jti index grows at one end.
      jti: uuidv7(1_700_000_000_000 + i),
      data: { active: true, token_type: 'DPoP', caller: 'bench-rs' },
    });
    for (let size = 10_000; size <= AUDIT_MAX; size *= 10) {
      const started = performance.now();
      // Populate: the server's own chaining, written straight to the table in large transactions.
      while (seq < size) {
        raw.transaction(() => {
          const end = Math.min(size, seq + 20_000);
          while (seq < end) {
            const e = chainedRow(event(seq), seq, hash, null);
            insert.run(e);
            seq = e.seq;
            hash = e.hash;
          }
          head.run({ seq, hash });
        })();
      }
      // Setup's own checkpoint, untimed: otherwise the copy of the last populating transactions into the database
      // (up to 500 ms of them, sqlite-checkpointer.ts) runs on the checkpoint thread during the timed appends.
      raw.pragma('wal_checkpoint(TRUNCATE)');
      const populated = (performance.now() - started) / 1000;
      // Append: one event per commit, through the server's group commit: a refresh's event, whose parent (its
      // grant's issuance) is looked up in the chain as the server does. Timed in APPEND_WINDOWS windows of
      // APPENDS, the best counting, as everywhere else in the bench: a single window of 2,000 appends, about 0.1 s of
      // CPU, moved a size's figure by 20-40% on a busy host when one GC or checkpoint landed in it.
      const refreshed = (i) => ({ ...event(i), type: 'token.refreshed', parent: { type: 'token.issued', grantId: event(i).grantId } });
      // Untimed first: the first size would otherwise also time the JIT's warm-up and a cold page cache.
      for (let i = 0; i < 3_000; i++) await fast.audit.record([refreshed(seq + i)]);
      let appendMicros = Infinity;
      for (let w = 0, i = 3_000; w < APPEND_WINDOWS; w++) {
        const cpu = process.cpuUsage();
        for (const end = i + APPENDS; i < end; i++) await fast.audit.record([refreshed(seq + i)]);
        appendMicros = Math.min(appendMicros, cpuMicros(cpu) / APPENDS);
      }
      const last = raw.prepare('select seq, hash from audit_head where id = 1').get();
      seq = Number(last.seq);
      hash = last.hash;
      // Verify: the whole chain, read in pages of 50,000, every hash recomputed (as `tether audit verify` does).
      const cpu = process.cpuUsage();
      const page = raw.prepare('select * from audit_events where seq > ? order by seq limit 50000');
      let verified = 0;
      let after = 0;
      let prevHash = 'tether-audit-genesis';
      let firstSeq = 1;
      for (;;) {
        const events = page.all(after).map(auditEventFromRow);
        if (events.length === 0) break;
        // What verifyChain does per event (audit/verify.ts), continued across pages: sequence, link, own hash.
        for (const e of events) {
          const { hash: own, ...content } = e;
          if (e.seq !== firstSeq || e.prevHash !== prevHash || eventHash(content) !== own) throw new Error(`chain broken at ${e.seq}`);
          prevHash = own;
          firstSeq++;
        }
        verified += events.length;
        after = events.at(-1).seq;
      }
      const verifyMicros = cpuMicros(cpu) / verified;
      const fileSize = raw.prepare('select page_count * page_size as bytes from pragma_page_count(), pragma_page_size()').get().bytes;
      rows.push([int(size), appendMicros.toFixed(1), verifyMicros.toFixed(2), mb(fileSize), mb(process.memoryUsage().rss), `${populated.toFixed(1)} s`, appendMicros, verifyMicros]);
    }
    await sqlite.db.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log(`Audit log: append of a refresh's event (its parent looked up; one event per commit, group commit path) and full-chain verification, per event${AUDIT_MAX < 10_000_000 ? ` (stopped at ${int(AUDIT_MAX)}: BENCH_SCALING_AUDIT_MAX)` : ''}`);
  const base = rows[0];
  log(
    table([
      ['events', 'µs CPU/append', 'µs CPU/event verified', 'database', 'bench RSS', 'populated in', 'append vs smallest', 'verify vs smallest'],
      ...rows.map((r) => [...r.slice(0, 6), `${(r[6] / base[6]).toFixed(2)}×`, `${(r[7] / base[7]).toFixed(2)}×`]),
    ]),
  );
  log();
}

async function guardRevocations() {
  const { Guard, StaticJwks, RevocationList, silentLogger } = await dist('guard/index.js');
  const issuerKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuerJwk = { ...issuerKeys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' };
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const ISS = 'https://as.bench';
  const AUD = 'https://api.bench';
  const HTU = 'https://api.bench/orders';
  const start = Math.floor(Date.now() / 1000);
  const key = proofKey();
  const token = (() => {
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({ iss: ISS, aud: AUD, sub: 'alice', client_id: 'tether-cli', scope: 'read', sid: 'grant-live', iat: start, exp: start + 3600, jti: randomUUID(), cnf: { jkt: key.jkt } })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: issuerKeys.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  })();
  const ath = createHash('sha256').update(token).digest('base64url');
  const proof = () => {
    const input = `${key.header}.${b64({ htm: 'GET', htu: HTU, iat: start, jti: randomUUID(), ath })}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  const CHECKS = 20_000;
  const rows = [];
  for (const size of [10, 1_000, 10_000, 100_000]) {
    const list = new RevocationList();
    for (let i = 0; i < size; i++) {
      const kind = ['grant', 'user', 'jkt', 'client'][i % 4];
      list.apply({ seq: i + 1, kind, value: `${kind}-${i}`, issuedBeforeMs: (start - 10) * 1000, relevantUntil: start + 3600 });
    }
    // The clock moves as if 10,000 checks came each second, so the list's once-a-second sweep runs while timed.
    let checks = 0;
    const now = () => start + 1 + checks / 10_000;
    const guard = new Guard({
      issuer: ISS,
      audience: AUD,
      keys: new StaticJwks({ keys: [issuerJwk] }),
      revocations: { health: () => ({ fresh: true }), isRevoked: (t) => list.covers(t, now()) },
      logger: silentLogger,
      now,
    });
    const proofs = Array.from({ length: CHECKS + 2_000 }, proof);
    for (let i = 0; i < 2_000; i++) await guard.check({ method: 'GET', url: HTU, authorization: `DPoP ${token}`, dpop: proofs[i], ip: '192.0.2.1', userAgent: 'bench' });
    global.gc?.();
    const cpu = process.cpuUsage();
    for (let i = 2_000; i < proofs.length; i++) {
      checks++;
      const result = await guard.check({ method: 'GET', url: HTU, authorization: `DPoP ${token}`, dpop: proofs[i], ip: '192.0.2.1', userAgent: 'bench' });
      if (!result.ok) throw new Error(`guard refused a valid request: ${result.code}`);
    }
    const micros = cpuMicros(cpu) / CHECKS;
    global.gc?.();
    rows.push([int(size), micros.toFixed(1), mb(process.memoryUsage().heapUsed), micros]);
  }
  log('Guard: revocation statements held (on other grants, users, keys and clients) vs CPU per check (DPoP token, fresh proof, policy off)');
  log(table([['statements', 'µs CPU/check', 'heap after GC', 'vs smallest'], ...relative(rows, 3).map((r) => [r[0], r[1], r[2], r[4]])]));
  log();
}

async function liveGrants() {
  const { openSqliteHandle } = await dist('storage/sqlite.js');
  const { sqliteFastPaths } = await dist('storage/sqlite-fast-paths.js');
  const { SqliteCheckpointer } = await dist('storage/sqlite-checkpointer.js');
  const { chainedRow } = await dist('storage/audit-log.js');
  const { hashSecret } = await dist('shared/crypto.js');
  const { uuidv7 } = await dist('shared/ids.js');
  const dir = mkdtempSync(join(tmpdir(), 'tether-scaling-grants-'));
  const rows = [];
  const now = Math.floor(Date.now() / 1000);
  try {
    const sqlite = await openSqliteHandle({ dataDir: join(dir, 'data'), synchronous: 'normal' });
    const { raw } = sqlite;
    const checkpointer = await SqliteCheckpointer.start(raw, 'normal');
    const fast = sqliteFastPaths(sqlite);
    const insertGrant = raw.prepare(
      "insert into grants (id, user_id, client_id, device_authorization_id, scope, resource, dpop_jkt, auth_time, created_at, expires_at, idle_ttl, last_used_at, status) values (?, 'alice', 'tether-cli', ?, 'read', 'https://api.example', 'bench-jkt', ?, ?, ?, 86400, ?, 'active')",
    );
    const insertToken = raw.prepare("insert into refresh_tokens (hash, grant_id, parent_hash, issued_at, expires_at, status) values (?, ?, null, ?, ?, 'active')");
    const { insert: insertEvent, head: writeHead } = directChainStatements(raw, chainedRow);
    const grants = [];
    const current = new Map();
    const newHash = () => hashSecret(randomBytes(32).toString('base64url'));
    // One refresh as the grant type makes it (grant-types/refresh-token-grant.ts), its storage calls only.
    const refresh = async (grantId) => {
      const oldHash = current.get(grantId);
      const stored = await fast.tokens.findRefreshToken(oldHash);
      const grant = stored && (await fast.grants.findGrant(stored.grantId));
      if (!grant || stored.status !== 'active') throw new Error(`grant ${grantId}: no active refresh token`);
      const hash = newHash();
      const jti = uuidv7();
      const event = {
        type: 'token.refreshed',
        at: now,
        userId: 'alice',
        clientId: 'tether-cli',
        grantId,
        jti,
        jkt: 'bench-jkt',
        parent: { type: 'token.issued', grantId },
        data: { expires_at: now + 300, previous_refresh_token_hash: oldHash, refresh_token_hash: hash, scopes: ['read'], ttl: 300 },
      };
      const tokens = {
        access: { jti, grantId, issuedAt: now, expiresAt: now + 300 },
        refresh: { hash, grantId, parentHash: oldHash, issuedAt: now, expiresAt: now + 86_400 },
      };
      if (!(await fast.tokens.rotateRefreshToken(oldHash, tokens, [event]))) throw new Error(`grant ${grantId}: rotation refused`);
      current.set(grantId, hash);
    };
    let visit = 0;
    const window = async (count) => {
      for (let done = 0; done < count; done += 4) {
        // Four at once, so they share a commit as concurrent requests do; a stride scatters them over the table.
        const batch = [];
        for (let j = 0; j < 4; j++) batch.push(refresh(grants[(visit++ * 7_919) % grants.length]));
        await Promise.all(batch);
      }
    };
    for (const size of [1_000, 10_000, 100_000]) {
      // Populate: grants, each with its issuance event (a refresh's parent, chained as the server chains it) and an
      // active refresh token, written straight to the tables.
      raw.transaction(() => {
        let head = raw.prepare('select seq, hash from audit_head where id = 1').get() ?? { seq: 0, hash: 'tether-audit-genesis' };
        while (grants.length < size) {
          const id = uuidv7();
          insertGrant.run(id, uuidv7(), now, now, now + 30 * 86_400, now);
          const issued = chainedRow({ type: 'token.issued', at: now, clientId: 'tether-cli', grantId: id, data: {} }, Number(head.seq), head.hash, null);
          insertEvent.run(issued);
          head = { seq: issued.seq, hash: issued.hash };
          const hash = newHash();
          insertToken.run(hash, id, now, now + 86_400);
          grants.push(id);
          current.set(id, hash);
        }
        writeHead.run(head);
      })();
      raw.pragma('wal_checkpoint(TRUNCATE)');
      await window(4_000);
      let micros = Infinity;
      for (let w = 0; w < APPEND_WINDOWS; w++) {
        const cpu = process.cpuUsage();
        await window(APPENDS);
        micros = Math.min(micros, cpuMicros(cpu) / APPENDS);
      }
      const fileSize = raw.prepare('select page_count * page_size as bytes from pragma_page_count(), pragma_page_size()').get().bytes;
      rows.push([int(size), micros.toFixed(1), mb(fileSize), mb(process.memoryUsage().rss), micros]);
    }
    await checkpointer.stop();
    await sqlite.db.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  log("Live grants: a refresh's storage work (token and grant read, rotation with its audit event; four to a commit), per refresh");
  log(table([['grants', 'µs CPU/refresh', 'database', 'bench RSS', 'vs smallest'], ...relative(rows, 4).map((r) => [...r.slice(0, 4), r[5]])]));
  log();
}

const pinned = setUpPinning();
log(`Cost as work grows — Node ${process.version}; ${SECONDS} s per poll measurement${pinned ? ', server pinned to CPU 1, load to CPU 0' : ''}`);
log();
const only = new Set((process.env['BENCH_SCALING'] ?? 'polls,audit,guard,grants').split(','));
if (only.has('polls')) await polls(pinned);
if (only.has('audit')) await auditLog();
if (only.has('guard')) await guardRevocations();
if (only.has('grants')) await liveGrants();
