import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Makes the data directory private to the server's user: the directory 0700 and every file in it 0600, whether
 * the directory is new or was made earlier (by hand, by an older version, or under a looser umask). mkdir's mode
 * applies only to a directory it creates, and SQLite's -wal and -shm files appear later, so this runs again
 * after the database opens. Symbolic links are left alone: chmod would follow them out of the directory.
 */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isFile()) chmodSync(path, 0o600);
    else if (stat.isDirectory()) chmodSync(path, 0o700);
  }
}
