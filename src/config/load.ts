import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configSchema, type Config } from './schema.js';

/** A configuration that cannot be used; the message names each bad field by its path. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
}

export function parseConfig(raw: unknown, source: string): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `  ${path}: ${issue.message}`;
  });
  throw new ConfigError(`${source} is not a valid Tether configuration:\n${lines.join('\n')}`);
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid YAML: ${(error as Error).message}`);
  }
  return parseConfig(raw, path);
}
