import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from '../config/paths.js';

/** A lock older than this is from a process that hung; refreshing takes a second or two. */
const STALE_AFTER_MS = 30_000;
const WAIT_STEP_MS = 25;

/** Cross-process mutual exclusion; the in-memory one serves tests and single-process use. */
export interface RefreshLock {
  /** Waits for the lock on `name`; the returned function releases it. */
  acquire(name: string): Promise<() => void>;
}

/**
 * An exclusive lock file per session in the private runtime folder, so that two `tether` processes (a proxy and a
 * `tether request`, say) never redeem the same refresh token: the server treats a second use of a rotated token
 * as theft and revokes the whole grant. The file holds only the owner's pid, so a crashed owner can be detected.
 */
export class FileRefreshLock implements RefreshLock {
  constructor(
    private readonly dir: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async acquire(name: string): Promise<() => void> {
    ensurePrivateDir(this.dir);
    const path = join(this.dir, `refresh-${createHash('sha256').update(name).digest('hex').slice(0, 16)}.lock`);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => {
          try {
            unlinkSync(path);
          } catch {
            // Taken over as stale by someone else; nothing to release.
          }
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (isStale(path)) {
        try {
          unlinkSync(path);
        } catch {
          // Another waiter removed it first.
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error('another tether process has been refreshing this session for too long');
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }
}

function isStale(path: string): boolean {
  try {
    const pid = Number(readFileSync(path, 'utf8'));
    if (Date.now() - statSync(path).mtimeMs > STALE_AFTER_MS) return true;
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // ESRCH: the owner is dead. ENOENT: released meanwhile. EPERM means alive but not ours, which cannot happen in
    // a private folder; treat it as alive.
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ESRCH';
  }
}

/** Serializes within one process only. */
export class InProcessRefreshLock implements RefreshLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(name: string): Promise<() => void> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(name, previous.then(() => mine));
    await previous;
    return release;
  }
}
