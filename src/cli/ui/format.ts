/** "4m 05s", "1h 02m", "12s": short enough for a status line, exact enough to act on. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Colours and symbols only on a terminal, so logs and pipes stay plain text. */
export function styles(enabled: boolean) {
  const wrap = (code: string) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    bold: wrap('1'),
    green: wrap('32'),
    red: wrap('31'),
    yellow: wrap('33'),
    dim: wrap('2'),
    ok: enabled ? '\x1b[32m✓\x1b[0m' : '✓',
    fail: enabled ? '\x1b[31m✗\x1b[0m' : '✗',
    warn: enabled ? '\x1b[33m!\x1b[0m' : '!',
  };
}
