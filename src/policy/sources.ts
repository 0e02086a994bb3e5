import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PolicySourceError } from './errors.js';
import type { PolicySource } from './policy-set.js';

/** Policy files in a directory are the `.cedar` files directly in it. */
export const POLICY_FILE_EXTENSION = '.cedar';

/**
 * Reads the policy set at `path`: one file, or every `.cedar` file directly in a directory, in name order (so a
 * set reads the same on every machine). Each source is named by its file name, which is what locations and
 * default policy ids (`team.cedar:12`) show.
 */
export async function readPolicySources(path: string): Promise<PolicySource[]> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new PolicySourceError(path, reason(error));
  }
  if (!info.isDirectory()) return [{ name: basename(path), text: await read(path) }];
  let names: string[];
  try {
    names = (await readdir(path)).filter((n) => n.endsWith(POLICY_FILE_EXTENSION) && !n.startsWith('.')).sort();
  } catch (error) {
    throw new PolicySourceError(path, reason(error));
  }
  const sources: PolicySource[] = [];
  for (const name of names) sources.push({ name, text: await read(join(path, name)) });
  return sources;
}

async function read(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicySourceError(path, reason(error));
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return code ?? (error as Error).message;
}
