import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, and ours that every line carries: shown as time, level and message, or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'service', 'v']);

/**
 * One pino JSON line as a person reads it in a terminal: `12:00:01 INFO  tether listening issuer=http://…`.
 * Values are the ones pino already redacted; a request shows as its method and URL, an error as its message.
 */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry['time'] === 'number' ? new Date(entry['time']).toISOString().slice(11, 19) : '--:--:--';
  const level = (LEVELS[Number(entry['level'])] ?? String(entry['level'])).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([name]) => !HIDDEN.has(name))
    .map(([name, value]) => `${name}=${describe(name, value)}`);
  return [time, level, String(entry['msg'] ?? ''), ...fields].filter(Boolean).join(' ');
}

function describe(name: string, value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (name === 'req' && record['method']) return `${String(record['method'])} ${String(record['url'] ?? '')}`;
    if (name === 'res' && record['statusCode'] !== undefined) return String(record['statusCode']);
    if (name === 'err' && record['message'] !== undefined) return JSON.stringify(String(record['message']));
    return JSON.stringify(value);
  }
  return typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value);
}

/** A destination for pino that writes each line through {@link formatLogLine} to `out`. */
export function textLogStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line) out.write(`${formatLogLine(line)}\n`);
      done();
    },
  });
}

/** `--log-format`: text on a terminal, JSON (one object a line, for collectors) otherwise or when asked. */
export function logDestination(format: string | undefined, out: NodeJS.WritableStream): NodeJS.WritableStream {
  const text = format === undefined ? Boolean((out as { isTTY?: boolean }).isTTY) : format === 'text';
  return text ? textLogStream(out) : out;
}
