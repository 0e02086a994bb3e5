import { isIP, isIPv4 } from 'node:net';

/**
 * Address ranges matched in plain JavaScript. node:net's BlockList would do, but each `check` allocates a
 * SocketAddress, and on the guard's path (a classification per API request) that garbage costs more than the
 * whole comparison: 16-bit groups compared in a loop allocate nothing.
 */
export interface IpRange {
  family: 4 | 6;
  /** The network's address as 16-bit groups (2 for IPv4, 8 for IPv6). */
  groups: number[];
  bits: number;
}

/** Parses "10.0.0.0/8", "2001:db8::/32" or a single address; undefined when it is neither. */
export function parseRange(text: string): IpRange | undefined {
  const [address = '', prefix] = text.trim().split('/');
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
  const groups = toGroups(address);
  return groups ? { family, groups, bits } : undefined;
}

/** Whether `ip` (already a valid, normalized address) lies in `range`. */
export function inRange(range: IpRange, ip: string): boolean {
  const { v4, groups } = addressGroups(ip);
  if ((range.family === 4) !== v4 || !groups) return false;
  let left = range.bits;
  for (let i = 0; left > 0; i++, left -= 16) {
    const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
    if (((groups[i] ?? 0) & mask) !== ((range.groups[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * The last address parsed, for the next range: classifying one address checks it against every configured and
 * built-in range in turn (eight at least), and parsing it is most of each check.
 */
let last: { ip: string; v4: boolean; groups: readonly number[] | undefined } = { ip: '', v4: false, groups: undefined };

function addressGroups(ip: string): { v4: boolean; groups: readonly number[] | undefined } {
  if (last.ip !== ip) last = { ip, v4: isIPv4(ip), groups: toGroups(ip) };
  return last;
}

function toGroups(address: string): number[] | undefined {
  if (isIPv4(address)) {
    const o = address.split('.').map(Number);
    return [((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)];
  }
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two more groups.
  const dot = text.lastIndexOf('.');
  if (dot !== -1) {
    const colon = text.lastIndexOf(':');
    const v4 = toGroups(text.slice(colon + 1));
    if (!v4) return undefined;
    text = `${text.slice(0, colon + 1)}${v4.map((g) => g.toString(16)).join(':')}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  const groups = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}
