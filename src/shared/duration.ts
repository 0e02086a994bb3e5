/**
 * Parses "90s", "5m", "12h", "1d" or a bare number of seconds into a positive number of seconds; undefined when it
 * is none of those. One parser for the configuration, policy annotations (`@ttl("5m")`) and the CLI's flags, so a
 * duration means the same everywhere. It imports nothing, so the client CLI and the guard may use it without
 * loading server code.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1;
  const seconds = amount * unit;
  return seconds > 0 ? seconds : undefined;
}
