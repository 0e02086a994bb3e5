import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { PollPacer } from '../device-flow/poll-pacer.js';
import type { PollPacing } from '../device-flow/poll-pacing.js';
import type { Clock } from '../shared/clock.js';
import type { ReplayGuard } from '../dpop/replay-guard.js';
import { memoryFailureCounts, type FailureCountsFor } from '../verification/failure-counts.js';
import { SqlFailureCounts } from './failure-counts.js';
import { SqlPollPacer } from './poll-pacing.js';
import { SqlDeviceAuthorizationStore } from './device-authorizations.js';
import type { Engine } from './dialect.js';
import { openPostgres } from './postgres.js';
import { CHANNELS, PostgresNotifier, type NotifierChannel } from './postgres-notifier.js';
import { SqlReplayStore } from './replay-store.js';
import type { Database } from './schema.js';
import { SqlAuditLog } from './audit-log.js';
import { SqlGrantStore } from './grants.js';
import { sqliteFastPaths } from './sqlite-fast-paths.js';
import { SqlTokenStore } from './tokens.js';
import { SqlUpstreamUserStore } from './upstream-users.js';
import { SqlDirectoryStore } from './users.js';
import { openSqliteHandle } from './sqlite.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';

/** The storage section of the configuration, as far as opening the engine needs it. */
export interface StorageOptions {
  engine: Engine;
  synchronous: 'normal' | 'full';
  url?: string | undefined;
  url_env?: string | undefined;
  url_file?: string | undefined;
  pool_size: number;
}

/**
 * The opened engine: the Kysely handle every store is built on, plus what differs by engine. On SQLite (one
 * process) the replay window, the change announcements, poll pacing and the verification page's failure counts
 * stay in-process; on PostgreSQL they are shared by every instance on the database.
 */
export interface Storage {
  engine: Engine;
  db: Kysely<Database>;
  deviceAuthorizations: SqlDeviceAuthorizationStore;
  /** The stores of redemption, refresh and introspection: on SQLite its fast paths (`sqlite-fast-paths.ts`). */
  grants: SqlGrantStore;
  tokens: SqlTokenStore;
  audit: SqlAuditLog;
  /** The stored directory and the upstream people (read at every issuance and refresh): on SQLite, prepared reads. */
  directory: SqlDirectoryStore;
  upstreamUsers: SqlUpstreamUserStore;
  /** PostgreSQL: the DPoP replay window shared by all instances on the database. */
  replay?: ReplayGuard;
  /** PostgreSQL: wake-ups between instances (LISTEN/NOTIFY). */
  notifications?: { revocations: NotifierChannel; devices: NotifierChannel };
  /** Poll pacing (slow_down): in-process on SQLite, counted over all instances on PostgreSQL. */
  pollPacer(clock: Clock): PollPacing;
  /** Failure counts of the code-entry and sign-in limits: in-process on SQLite, one table for all instances on PostgreSQL. */
  failureCounts: FailureCountsFor;
  /**
   * Runs start-up work that creates shared state (the first signing key) while no other instance runs its own:
   * two instances started at once on an empty database must not each create a key the other never loads.
   */
  startup<T>(work: () => Promise<T>): Promise<T>;
  /** SQLite: rebuilds the file and empties the WAL, so bytes of rewritten rows linger nowhere. */
  compact?(): Promise<void>;
  close(): Promise<void>;
}

/** The advisory lock id instances hold while starting up (any constant; "tether" in ASCII, as a number). */
const STARTUP_LOCK = 0x746574686572;

/** A database URL that cannot be read; the message names where it was looked for, never the value. */
export class StorageConfigError extends Error {
  readonly code = 'config_invalid';
}

/** The PostgreSQL URL from wherever the configuration says it is. */
export function databaseUrl(options: StorageOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (options.url_env !== undefined) {
    const value = env[options.url_env]?.trim();
    if (!value) throw new StorageConfigError(`storage.url_env: the environment variable ${options.url_env} is not set`);
    return value;
  }
  if (options.url_file !== undefined) {
    let value: string;
    try {
      value = readFileSync(options.url_file, 'utf8').trim();
    } catch (error) {
      throw new StorageConfigError(`storage.url_file: cannot read ${options.url_file}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
    if (!value) throw new StorageConfigError(`storage.url_file: ${options.url_file} is empty`);
    return value;
  }
  if (options.url !== undefined) return options.url;
  throw new StorageConfigError('storage: engine postgres needs url_env, url_file or url');
}

/**
 * Just the database of the configured engine, for tools that read what the server wrote (`tether audit`): no
 * notification session, nothing kept beyond the handle.
 */
export async function openDatabase(options: StorageOptions, dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Kysely<Database>> {
  if (options.engine === 'sqlite') return (await openSqliteHandle({ dataDir, synchronous: options.synchronous })).db;
  return (await openPostgres({ url: databaseUrl(options, env), poolSize: 2 })).db;
}

/** Opens the configured engine and brings its schema up to date. */
export async function openStorage(
  options: StorageOptions,
  dataDir: string,
  hooks: { onError?: (error: unknown) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<Storage> {
  if (options.engine === 'sqlite') {
    const sqlite = await openSqliteHandle({ dataDir, synchronous: options.synchronous });
    // The synchronous fast paths (group commit, prepared statements) are SQLite's own.
    const fast = sqliteFastPaths(sqlite);
    // Checkpoints off the event loop: no request waits out their syncs.
    const checkpointer = await SqliteCheckpointer.start(sqlite.raw, options.synchronous);
    return {
      engine: 'sqlite',
      db: sqlite.db,
      deviceAuthorizations: fast.deviceAuthorizations,
      grants: fast.grants,
      tokens: fast.tokens,
      audit: fast.audit,
      directory: fast.directory,
      upstreamUsers: fast.upstreamUsers,
      // One process owns the file: nobody else can start up beside it, and nobody shares its limits.
      startup: (work) => work(),
      pollPacer: (clock) => new PollPacer(clock),
      failureCounts: memoryFailureCounts,
      compact: () =>
        sqlite.exclusive(() => {
          sqlite.raw.exec('VACUUM');
          sqlite.raw.pragma('wal_checkpoint(TRUNCATE)');
        }),
      close: async () => {
        await checkpointer.stop();
        await sqlite.db.destroy();
      },
    };
  }
  const url = databaseUrl(options, hooks.env);
  const { db, pool } = await openPostgres({ url, poolSize: options.pool_size });
  const notifier = new PostgresNotifier(url, pool, hooks.onError);
  try {
    await notifier.start();
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return {
    engine: 'postgres',
    db,
    deviceAuthorizations: new SqlDeviceAuthorizationStore(db),
    grants: new SqlGrantStore(db),
    tokens: new SqlTokenStore(db),
    audit: new SqlAuditLog(db),
    directory: new SqlDirectoryStore(db),
    upstreamUsers: new SqlUpstreamUserStore(db),
    replay: new SqlReplayStore(db),
    pollPacer: (clock) => new SqlPollPacer(db, () => clock.nowMs()),
    failureCounts: (scope) => new SqlFailureCounts(db, scope),
    notifications: { revocations: notifier.channel(CHANNELS.revocations), devices: notifier.channel(CHANNELS.devices) },
    async startup(work) {
      // A session-level advisory lock on a connection of its own, held while `work` queries through the pool.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [STARTUP_LOCK]);
        try {
          return await work();
        } finally {
          await client.query('select pg_advisory_unlock($1)', [STARTUP_LOCK]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      await notifier.close();
      await db.destroy();
    },
  };
}
