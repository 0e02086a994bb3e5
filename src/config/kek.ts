import { readFileSync } from 'node:fs';
import { relative, resolve, isAbsolute } from 'node:path';
import { KeyEncryptionError, KeyEncryptionKey } from '../tokens/key-encryption.js';
import { ConfigError } from './load.js';
import type { Config } from './schema.js';

export interface ResolvedKek {
  kek: KeyEncryptionKey;
  /** Where it came from, for the start-up log (never the key itself). */
  origin: 'TETHER_KEK' | 'keys.kek_file';
  /** True when the KEK sits inside the data dir: whoever copies the data dir then has the keys too. */
  insideDataDir: boolean;
}

/**
 * Finds the key-encryption key that seals the signing keys: TETHER_KEK from the environment, else the file named
 * by `keys.kek_file`. Without either the server refuses to start rather than keep private keys in the clear.
 */
export function resolveKek(config: Config, env: Readonly<Record<string, string | undefined>>): ResolvedKek {
  const fromEnv = env['TETHER_KEK'];
  try {
    if (fromEnv) return { kek: KeyEncryptionKey.parse(fromEnv), origin: 'TETHER_KEK', insideDataDir: false };
    const file = config.keys.kek_file;
    if (file === undefined) {
      throw new ConfigError(
        'no key-encryption key: set TETHER_KEK (e.g. TETHER_KEK=$(openssl rand -base64 32)) or keys.kek_file, ' +
          'kept outside the data dir; the signing keys are sealed with it at rest',
      );
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`keys.kek_file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
    const inside = relative(resolve(config.data_dir), resolve(file));
    return { kek: KeyEncryptionKey.parse(text), origin: 'keys.kek_file', insideDataDir: !inside.startsWith('..') && !isAbsolute(inside) };
  } catch (error) {
    if (error instanceof KeyEncryptionError) throw new ConfigError(`${fromEnv ? 'TETHER_KEK' : 'keys.kek_file'}: ${error.message}`);
    throw error;
  }
}
