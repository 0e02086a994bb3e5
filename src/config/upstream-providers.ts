import { readFileSync } from 'node:fs';
import type { UpstreamProvider } from '../verification/upstream-sign-in.js';
import { ConfigError } from './load.js';
import type { Config, UpstreamProviderConfig } from './schema.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The configured upstream providers, with their client secrets read from the environment or a file (never from the
 * YAML). A provider over plain http is refused unless it is on this machine: its ID tokens and codes would cross
 * the network in the clear.
 */
export function upstreamProviders(config: Config, env: Readonly<Record<string, string | undefined>>): UpstreamProvider[] {
  return config.upstream_providers.map((p, i) => {
    const where = `upstream_providers[${i}] (${p.name})`;
    const issuer = new URL(p.issuer);
    if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && LOOPBACK_HOSTS.has(issuer.hostname))) {
      throw new ConfigError(`${where}: issuer must be https (plain http only for a provider on this machine)`);
    }
    const secret = clientSecret(p, env, where);
    return {
      name: p.name,
      label: p.display_label ?? p.name,
      issuer,
      clientId: p.client_id,
      ...(secret !== undefined ? { clientSecret: secret } : {}),
      scopes: p.scopes,
      claims: { username: p.claims.username, displayName: p.claims.display_name, groups: p.claims.groups },
      allowedEmailDomains: p.allowed_email_domains.map((d) => d.toLowerCase()),
      mfaAmr: p.mfa_amr,
      phishingResistantAmr: p.phishing_resistant_amr,
      mfaAcr: p.mfa_acr,
      phishingResistantAcr: p.phishing_resistant_acr,
      timeout: p.timeout,
    };
  });
}

function clientSecret(p: UpstreamProviderConfig, env: Readonly<Record<string, string | undefined>>, where: string): string | undefined {
  if (p.client_secret_env !== undefined) {
    const value = env[p.client_secret_env];
    if (!value) throw new ConfigError(`${where}: the environment variable ${p.client_secret_env} (client_secret_env) is not set`);
    return value;
  }
  if (p.client_secret_file !== undefined) {
    let text: string;
    try {
      text = readFileSync(p.client_secret_file, 'utf8');
    } catch (error) {
      throw new ConfigError(`${where}: client_secret_file: cannot read ${p.client_secret_file}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
    const value = text.trim();
    if (!value) throw new ConfigError(`${where}: client_secret_file ${p.client_secret_file} is empty`);
    return value;
  }
  return undefined;
}
