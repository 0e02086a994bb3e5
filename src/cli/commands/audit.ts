import { createWriteStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { AuditEvent, AuditQuery } from '../../audit/event.js';
import { verifyCheckpointSignature } from '../../audit/checkpoint.js';
import { toOcsf } from '../../audit/ocsf.js';
import { buildTrace, renderTrace } from '../../audit/trace.js';
import { verifyChain } from '../../audit/verify.js';
import { ConfigError, loadConfigFile } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { normalizeUserCode } from '../../device-flow/user-code.js';
import { parseDuration } from '../../shared/duration.js';
import { hashSecret } from '../../shared/crypto.js';
import { SqlAuditCheckpoints, SqlAuditLog } from '../../storage/audit-log.js';
import type { Database } from '../../storage/schema.js';
import { SqlSigningKeyStore } from '../../storage/signing-keys.js';
import { openDatabase } from '../../storage/open.js';
import { openSqlite } from '../../storage/sqlite.js';
import { canonicalUserId } from '../../users/canonical-id.js';
import { defineCommand, UsageError } from '../command.js';
import { ExitCode, type CliIO } from '../io.js';

const USAGE = `Usage:
  tether audit [--user NAME] [--client ID] [--type TYPE] [--since 1h|ISO-TIME]   list events
  tether audit verify                                  check the hash chain and signed checkpoints
  tether audit trace <jti | grant id | user code>      the approval and every token descended from it
  tether audit export [--format jsonl|ocsf] [--output FILE] [--follow] [--since …]
Every form takes --data-dir DIR (default ./.tether-dev) or --config FILE, and reads the store the server writes.`;

/** Exit code for a chain that fails verification: distinct, so a cron job can alert on it. */
export const AUDIT_TAMPERED = 6;

export interface AuditCommandDeps {
  /** Ends follow mode; by default SIGINT. */
  signal?: AbortSignal;
  now?: () => number;
}

/** `tether audit`: query, verify, trace and export the audit store. */
export function auditCommand(args: string[], io: CliIO, deps: AuditCommandDeps = {}): Promise<number> {
  const sub = args[0] && !args[0].startsWith('-') ? args[0] : 'list';
  const rest = sub === 'list' && args[0] !== 'list' ? args : args.slice(1);
  return auditCli(rest, { io, deps, sub });
}

/** What a store that exists holds; its absence means --data-dir names the wrong folder. */
const SQLITE_FILE = 'tether.sqlite';

export const auditCli = defineCommand({
  name: 'audit',
  summary: 'query, verify, trace and export the tamper-evident audit log',
  usage: USAGE,
  options: {
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    user: { type: 'string' },
    client: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    format: { type: 'string', default: 'jsonl' },
    output: { type: 'string' },
    follow: { type: 'boolean', default: false },
  },
  positionals: true,
  run: async ({ values, positionals }, { io, deps, sub }: { io: CliIO; deps: AuditCommandDeps; sub: string }) => {
    if (!['list', 'verify', 'trace', 'export'].includes(sub)) throw new UsageError(`unknown subcommand '${sub}'`);
    if (positionals.length > (sub === 'trace' ? 1 : 0)) throw new UsageError(`unexpected argument ${JSON.stringify(positionals.at(-1))}`);
    const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
    const since = values.since === undefined ? undefined : parseSince(values.since, now());
    if (values.since !== undefined && since === undefined) {
      throw new UsageError('--since takes a duration (90s, 15m, 2h, 7d) or an ISO time');
    }
    if (values.format !== 'jsonl' && values.format !== 'ocsf') {
      throw new UsageError('--format is jsonl or ocsf');
    }
    let config: Config | undefined;
    try {
      config = values.config ? loadConfigFile(values.config) : undefined;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      io.stderr.write(`tether audit: ${error.message}\n`);
      return ExitCode.config;
    }
    const dataDir = config ? config.data_dir : resolve(values['data-dir'] ?? '.tether-dev');
    // Opening would create an empty store and report it "intact: 0 events": a wrong folder must say so instead.
    const onSqlite = !config || config.storage.engine === 'sqlite';
    if (onSqlite && !existsSync(join(dataDir, SQLITE_FILE))) {
      throw new UsageError(`no Tether store in ${dataDir} (no ${SQLITE_FILE}); give the server's --data-dir, or --config FILE`);
    }
    // With --config, the store the configuration names (SQLite under data_dir, or the shared PostgreSQL database).
    const db = config ? await openDatabase(config.storage, config.data_dir, io.env) : await openSqlite({ dataDir, synchronous: 'normal' });
    try {
      const log = new SqlAuditLog(db);
      if (sub === 'verify') return await verify(db, io);
      if (sub === 'trace') {
        const target = positionals[0];
        if (!target) {
          io.stderr.write('tether audit trace: name a jti, a grant id or a user code\n');
          return ExitCode.usage;
        }
        return await trace(log, target, io, now());
      }
      const query: AuditQuery = { userId: values.user === undefined ? undefined : canonicalUserId(values.user), clientId: values.client, since };
      if (values.type) query.type = values.type as AuditEvent['type'];
      if (sub === 'list') {
        for (const e of await log.query(query)) io.stdout.write(`${describe(e)}\n`);
        return ExitCode.ok;
      }
      return await exportEvents(log, query, values.format, values.output, values.follow, io, deps.signal);
    } finally {
      await db.destroy();
    }
  },
});

async function verify(db: Kysely<Database>, io: CliIO): Promise<number> {
  const store = new SqlAuditCheckpoints(db);
  const keys = (await new SqlSigningKeyStore(db).listSigningKeys()).map((k) => JSON.parse(k.publicJwk) as JWK);
  const report = await verifyChain(await store.allEvents(), await store.checkpoints(), (c) => verifyCheckpointSignature(c, keys));
  if (report.ok) {
    io.stdout.write(`Audit chain intact: ${report.events} events, ${report.checkpoints} signed checkpoints verified.\n`);
    return ExitCode.ok;
  }
  const bad = report.firstBad!;
  io.stdout.write(`AUDIT CHAIN BROKEN at event ${bad.seq}: ${bad.fault} (${bad.detail}).\n`);
  return AUDIT_TAMPERED;
}

async function trace(log: SqlAuditLog, target: string, io: CliIO, now: number): Promise<number> {
  let grantId: string | undefined;
  let deviceAuthorizationId: string | undefined;
  const code = normalizeUserCode(target);
  if (code) {
    const requested = (await log.query({ type: 'device_code.requested' })).find((e) => e.data['user_code_hash'] === hashSecret(code));
    deviceAuthorizationId = requested?.deviceAuthorizationId ?? undefined;
  } else {
    const byJti = await log.query({ jti: target, limit: 1 });
    grantId = byJti[0]?.grantId ?? ((await log.query({ grantId: target, limit: 1 })).length > 0 ? target : undefined);
  }
  if (deviceAuthorizationId && !grantId) {
    const decided = await log.query({ deviceAuthorizationId, type: 'device.approved', limit: 1 });
    grantId = decided[0]?.grantId ?? undefined;
  }
  if (grantId && !deviceAuthorizationId) {
    const approved = await log.query({ grantId, type: 'device.approved', limit: 1 });
    deviceAuthorizationId = approved[0]?.deviceAuthorizationId ?? undefined;
  }
  if (!grantId && !deviceAuthorizationId) {
    io.stderr.write(`tether audit trace: nothing recorded for ${code ? 'that user code' : target}\n`);
    return ExitCode.failure;
  }
  const events = new Map<number, AuditEvent>();
  if (deviceAuthorizationId) for (const e of await log.query({ deviceAuthorizationId })) events.set(e.seq, e);
  if (grantId) for (const e of await log.query({ grantId })) events.set(e.seq, e);
  const ordered = [...events.values()].sort((a, b) => a.seq - b.seq);
  io.stdout.write(`${renderTrace(buildTrace(ordered), now)}\n`);
  return ExitCode.ok;
}

async function exportEvents(
  log: SqlAuditLog,
  query: AuditQuery,
  format: string,
  output: string | undefined,
  follow: boolean,
  io: CliIO,
  signal: AbortSignal | undefined,
): Promise<number> {
  const out = output ? createWriteStream(output, { flags: 'a', mode: 0o600 }) : io.stdout;
  const write = (e: AuditEvent) => out.write(`${JSON.stringify(format === 'ocsf' ? toOcsf(e) : e)}\n`);
  let afterSeq = 0;
  for (const e of await log.query(query)) {
    write(e);
    afterSeq = e.seq;
  }
  if (follow) {
    const stop = signal ?? abortOnSigint();
    while (!stop.aborted) {
      await new Promise((done) => setTimeout(done, 500));
      for (const e of await log.query({ ...query, since: undefined, afterSeq })) {
        write(e);
        afterSeq = e.seq;
      }
    }
  }
  if (output) await new Promise<void>((done) => out.end(() => done()));
  return ExitCode.ok;
}

function abortOnSigint(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  return controller.signal;
}

function parseSince(value: string, now: number): number | undefined {
  const seconds = parseDuration(value);
  if (seconds !== undefined) return now - seconds;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : Math.floor(time / 1000);
}

function describe(e: AuditEvent): string {
  const time = new Date(e.at * 1000).toISOString().replace('.000Z', 'Z');
  const who = [e.userId && `user=${e.userId}`, e.clientId && `client=${e.clientId}`, e.grantId && `grant=${e.grantId}`, e.jti && `jti=${e.jti}`]
    .filter(Boolean)
    .join(' ');
  const where = e.data['ip'] ?? e.data['approver_ip'];
  return `${String(e.seq).padStart(6)}  ${time}  ${e.type.padEnd(28)} ${who}${where ? ` ip=${String(where)}` : ''}`;
}
