import { UsageError, urlOption } from '../command.js';
import { ExitCode, type CliIO } from '../io.js';

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

/** What the admin API answered: its status and JSON body, or status 0 when it could not be reached. */
export interface AdminResponse {
  ok: boolean;
  status: number;
  body: unknown;
}

/** One call to the admin API; network failures and non-JSON answers become a response, never a throw. */
export async function adminRequest(fetcher: typeof fetch, url: string, init: RequestInit): Promise<AdminResponse> {
  try {
    const response = await fetcher(url, init);
    const text = await response.text();
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response' };
    }
    return { ok: response.ok, status: response.status, body };
  } catch (error) {
    return { ok: false, status: 0, body: { error: 'network', error_description: (error as Error).message } };
  }
}

/** Says why an admin call failed, as `tether <command>: …`, and returns the exit code docs/cli.md gives for it. */
export function reportAdminFailure(command: string, io: CliIO, response: AdminResponse): number {
  const { error, error_description: description } = response.body as { error?: string; error_description?: string };
  if (response.status === 0) {
    io.stderr.write(`tether ${command}: cannot reach the server (${description ?? 'network error'})\n`);
    return ExitCode.network;
  }
  if (response.status === 401) {
    io.stderr.write(`tether ${command}: the server refused the admin key\n`);
    return ExitCode.unauthorized;
  }
  io.stderr.write(`tether ${command}: ${error ?? `HTTP ${response.status}`}${description ? `: ${description}` : ''}\n`);
  return ExitCode.failure;
}
