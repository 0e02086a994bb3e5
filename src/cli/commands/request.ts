import { readFileSync } from 'node:fs';
import { defineCommand } from '../command.js';
import type { ClientError } from '../auth/errors.js';
import { ExitCode } from '../io.js';
import { AuthorizedSender } from '../proxy/authorized-sender.js';
import { isWithinResource } from '../proxy/resource-url.js';
import { profileFile, type ClientDeps } from './client-deps.js';
import { openSession, reportFailure } from './session.js';

const USAGE = `Usage: tether request [--issuer URL] [-H 'Name: value']... [-d DATA | -d @FILE | -d @-] [-i] METHOD URL

Makes one authenticated call, like curl, for scripts: adds a current access token and a DPoP proof, refreshing
as needed. URL must lie inside the session's resource; the token is never sent anywhere else.
The response body goes to standard output; -i puts the status line and headers before it.
Exit codes: 0 for 1xx-3xx, ${ExitCode.httpError} for an HTTP error status, ${ExitCode.notSignedIn} without a usable session.`;

/** `tether request METHOD URL`: one call, for scripts. */
export const requestCommand = defineCommand({
  name: 'request',
  summary: 'make one authenticated call to the API (like curl), for scripts',
  usage: USAGE,
  options: {
    issuer: { type: 'string' },
    header: { type: 'string', short: 'H', multiple: true },
    data: { type: 'string', short: 'd' },
    include: { type: 'boolean', short: 'i', default: false },
  },
  positionals: true,
  run: async ({ values, positionals }, deps: ClientDeps) => {
    const { io } = deps;
    const [method, url] = positionals;
    if (!method || !url || positionals.length > 2 || !/^[A-Za-z]+$/.test(method)) {
      io.stderr.write(`tether request: give METHOD and URL\n\n${USAGE}\n`);
      return ExitCode.usage;
    }
    const headers = new Headers();
    for (const header of values.header ?? []) {
      const colon = header.indexOf(':');
      if (colon <= 0) {
        io.stderr.write(`tether request: a header looks like 'Name: value', not ${JSON.stringify(header)}\n`);
        return ExitCode.usage;
      }
      const name = header.slice(0, colon).trim();
      if (['authorization', 'dpop'].includes(name.toLowerCase())) {
        io.stderr.write(`tether request: ${name} is set by tether itself\n`);
        return ExitCode.usage;
      }
      headers.append(name, header.slice(colon + 1).trim());
    }
    try {
      const session = await openSession(deps, { issuer: values.issuer, resource: resourceFor(deps, url, values.issuer) });
      if (!isWithinResource(url, session.profile.resource)) {
        io.stderr.write(
          `tether request: ${url} is outside ${session.profile.resource}, the API this session's tokens are for; ` +
            'tether sends them nowhere else\n',
        );
        return ExitCode.usage;
      }
      const body = values.data === undefined ? undefined : await readData(values.data, io.stdin);
      if (body && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
      let ended: ClientError | undefined;
      const sender = new AuthorizedSender({
        fetch: deps.fetch,
        tokens: session.tokens,
        key: session.key,
        nonces: deps.nonces,
        onSessionEnded: (error) => {
          ended = error;
          io.stderr.write(`tether request: ${error.message}\n`);
        },
      });
      let response: Response;
      try {
        response = await sender.send({ method: method.toUpperCase(), url, headers, ...(body ? { body } : {}) });
      } catch (error) {
        if ((error as Error).name === 'TypeError') {
          io.stderr.write(`tether request: cannot reach ${new URL(url).origin}\n`);
          return ExitCode.network;
        }
        throw error;
      }
      if (values.include) {
        const lines = [`HTTP ${response.status} ${response.statusText}`];
        response.headers.forEach((value, name) => lines.push(`${name}: ${value}`));
        io.stdout.write(`${lines.join('\r\n')}\r\n\r\n`);
      }
      io.stdout.write(Buffer.from(await response.arrayBuffer()));
      if (response.status >= 400) {
        const detail = /error="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
        io.stderr.write(`tether request: HTTP ${response.status}${detail ? ` (${detail})` : ''}\n`);
        // The API refused the token and no refresh could help: say which of the two it was, by exit code too.
        if (ended && response.status === 401) return ended.code === 'session_revoked' ? ExitCode.revoked : ExitCode.notSignedIn;
        return ExitCode.httpError;
      }
      return ExitCode.ok;
    } catch (error) {
      return reportFailure(io, 'request', error);
    }
  },
});

/**
 * With several sessions, the one whose resource contains URL is meant; with none, the current one answers (and
 * is then refused for lying outside).
 */
function resourceFor(deps: ClientDeps, url: string, issuer: string | undefined): string | undefined {
  const config = profileFile(deps).read();
  const fits = config.profiles.filter((p) => isWithinResource(url, p.resource) && (issuer === undefined || p.issuer === issuer.replace(/\/+$/, '')));
  const current = fits.find((p) => p.issuer === config.current?.issuer && p.resource === config.current.resource);
  return (current ?? fits[0])?.resource;
}

async function readData(data: string, stdin: NodeJS.ReadableStream): Promise<Uint8Array> {
  if (data === '@-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks);
  }
  if (data.startsWith('@')) return readFileSync(data.slice(1));
  return Buffer.from(data, 'utf8');
}
