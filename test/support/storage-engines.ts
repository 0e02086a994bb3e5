// The two storage engines a storage test runs against: SQLite in a fresh data dir, and PostgreSQL as a real
// server (one per test file, started on first use; skipped where no PostgreSQL is installed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { openStorage, type Storage, type StorageOptions } from '../../src/storage/open.js';
import { postgresSkipReason, startPostgres, type TestPostgres } from './postgres.js';

export interface TestEngine {
  options: StorageOptions;
  dataDir: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** [name, make, skip reason or false] for SQLite and PostgreSQL; the PostgreSQL server stops after the file's tests. */
export function testEngines(label: string): [string, () => Promise<TestEngine>, string | false][] {
  let server: TestPostgres | undefined;
  after(async () => {
    await server?.stop();
  });
  const urlEnv = `TETHER_${label.toUpperCase().replace(/\W/g, '_')}_URL`;
  return [
    [
      'sqlite',
      async () => {
        const dataDir = mkdtempSync(join(tmpdir(), `tether-${label}-`));
        return {
          options: { engine: 'sqlite', synchronous: 'normal', pool_size: 1 },
          dataDir,
          env: {},
          cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
        };
      },
      false,
    ],
    [
      'postgres',
      async () => {
        server ??= await startPostgres();
        return {
          options: { engine: 'postgres', synchronous: 'normal', url_env: urlEnv, pool_size: 4 },
          dataDir: '/nonexistent',
          env: { [urlEnv]: await server.database() },
          cleanup: async () => undefined,
        };
      },
      postgresSkipReason(),
    ],
  ];
}

/** The storage a suite's tests share: opened on `make`'s engine before them, closed and cleaned up after them. */
export function suiteStorage(make: () => Promise<TestEngine>) {
  let engine: TestEngine | undefined;
  let storage: Storage | undefined;
  const open = async () => {
    storage = await openStorage(engine!.options, engine!.dataDir, { env: engine!.env });
    return storage;
  };
  before(async () => {
    engine = await make();
    await open();
  });
  after(async () => {
    await storage?.close();
    await engine?.cleanup();
  });
  return {
    get storage(): Storage {
      return storage!;
    },
    get engine(): TestEngine {
      return engine!;
    },
    /** Closes the storage and opens it again, as a restarted server would (migrations run). */
    async reopen(): Promise<Storage> {
      await storage?.close();
      return open();
    },
  };
}
