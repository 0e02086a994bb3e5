import { connect } from 'node:net';

export interface RawReply {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

/**
 * Sends one HTTP/1.1 request exactly as given, bytes and all, for what fetch refuses to send: two headers of one
 * name, a body without a content type, bytes that are not UTF-8. `headerLines` need no Host or Connection header (a Host line given replaces the default).
 */
export function rawRequest(
  issuer: string,
  method: string,
  path: string,
  headerLines: string[],
  body?: Buffer | string,
  /** Keep the sending side open until the answer (Node's http server drops a half-closed request it has not answered yet). */
  opts: { keepOpen?: boolean } = {},
) {
  const url = new URL(issuer);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  // A Host line in `headerLines` replaces the default one (to send a Host that is not the server's).
  const host = headerLines.some((h) => /^host:/i.test(h)) ? [] : [`Host: ${url.host}`];
  const lines = [`${method} ${path} HTTP/1.1`, ...host, 'Connection: close', ...headerLines];
  const chunked = headerLines.some((h) => /^transfer-encoding:/i.test(h));
  // With Transfer-Encoding the body is sent as given, already chunk-encoded.
  if (body !== undefined && !chunked) lines.push(`Content-Length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise<RawReply>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      const bytes = Buffer.concat([head, payload]);
      if (opts.keepOpen) socket.write(bytes);
      else socket.end(bytes);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

function parse(response: Buffer): RawReply {
  const split = response.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no HTTP response: ${response.toString('latin1').slice(0, 200)}`);
  const [statusLine = '', ...headerLines] = response.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let raw = response.subarray(split + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') raw = dechunk(raw);
  const body = raw.toString('utf8');
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
