import { UsageError, urlOption } from '../command.js';
import type { CliIO } from '../io.js';

/** Where `tether serve --dev` listens: the issuer when nothing else names one. */
export const DEFAULT_ADMIN_ISSUER = 'http://127.0.0.1:8080';

/** How an operator command reaches the admin API: the issuer and the headers carrying the admin key. */
export interface AdminAccess {
  issuer: string;
  headers: Record<string, string>;
}

/**
 * The admin key and issuer of every `tether admin …` (and `tether keys …`) command, looked up in one place: the key
 * from TETHER_ADMIN_KEY only, never from arguments (they end up in shell history and `ps`); the issuer from
 * `--issuer`, then TETHER_ISSUER, then the dev server's address.
 */
export function adminAccess(io: CliIO, issuerFlag: string | undefined): AdminAccess {
  const key = io.env['TETHER_ADMIN_KEY'];
  if (!key) throw new UsageError('set TETHER_ADMIN_KEY to an admin key (tether serve --dev prints one at first start)');
  const issuer = issuerFlag !== undefined
    ? urlOption('--issuer', issuerFlag)
    : io.env['TETHER_ISSUER'] !== undefined
      ? urlOption('TETHER_ISSUER', io.env['TETHER_ISSUER'])
      : DEFAULT_ADMIN_ISSUER;
  return { issuer, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } };
}
