/**
 * Parses "90s", "5m", "12h", "1d" or a bare number of seconds into seconds. Shared by the configuration and the
 * policy module's annotations (`@ttl("5m")`), so the guard can load policies without loading the server's config.
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
