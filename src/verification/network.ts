import { isIPv4, isIPv6 } from 'node:net';

/**
 * Whether two addresses are on the same network as far as a person would care: the same IPv4 /24 or IPv6 /64
 * (one home or office), or both loopback. Used to warn when the approving browser is not near the device that asked.
 */
export function sameNetwork(a: string, b: string): boolean {
  const x = unmap(a);
  const y = unmap(b);
  if (isLoopback(x) && isLoopback(y)) return true;
  if (isIPv4(x) && isIPv4(y)) return x.split('.').slice(0, 3).join('.') === y.split('.').slice(0, 3).join('.');
  if (isIPv6(x) && isIPv6(y)) return expand(x).slice(0, 4).join(':') === expand(y).slice(0, 4).join(':');
  return false;
}

function unmap(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || (isIPv4(ip) && ip.startsWith('127.'));
}

function expand(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = ip.includes('::') ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => g.padStart(4, '0'));
}
