import { readFileSync } from 'node:fs';
import { platform, release } from 'node:os';

/**
 * The version in package.json, read at run time: the same relative path holds from src/cli (tsx) and dist/cli
 * (the built binary), and the package is its own single source of truth.
 */
export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

let agent: string | undefined;

/**
 * What the CLI calls itself in `User-Agent` (RFC 9110 §10.1.5): product/version, then the platform and the
 * runtime, as `tether/0.1.0 (linux 6.1; node 20.11.1)`. The verification page shows it as the device software.
 */
export function cliUserAgent(): string {
  agent ??= `tether/${cliVersion()} (${platform()} ${release().split('-')[0]}; node ${process.versions.node})`;
  return agent;
}
