import { isIP, isIPv4 } from 'node:net';
import { sameNetwork } from '../verification/network.js';
import { PolicyInputError } from './errors.js';
import { inRange, parseRange, type IpRange } from './ip-range.js';

/** Configured network names and their address ranges, e.g. `{ office: ['203.0.113.0/24'], vpn: ['10.8.0.0/16'] }`. */
export type NamedNetworks = Readonly<Record<string, readonly string[]>>;

const BUILT_IN: readonly [string, readonly string[]][] = [
  ['loopback', ['127.0.0.0/8', '::1/128']],
  // RFC 1918, RFC 4193 unique-local, and link-local: addresses that are only meaningful inside one site.
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', 'fc00::/7', 'fe80::/10']],
];

/**
 * Names the network an address is on, for policy's `network` attribute: the first configured network that holds
 * it, else "loopback", "private" or "public". Names let a policy say `context.network == "office"` without
 * repeating address ranges in every rule (Cedar's `ip(...).isInRange(...)` remains there for one-off cases).
 */
export class NetworkClassifier {
  private readonly named: { name: string; ranges: IpRange[] }[];
  private readonly builtIn: { name: string; ranges: IpRange[] }[];

  constructor(networks: NamedNetworks = {}) {
    this.named = Object.entries(networks).map(([name, ranges]) => ({ name, ranges: parseRanges(`networks.${name}`, ranges) }));
    this.builtIn = BUILT_IN.map(([name, ranges]) => ({ name, ranges: parseRanges(name, ranges) }));
  }

  /** The network name for a (normalized) address. */
  classify(ip: string): string {
    for (const { name, ranges } of this.named) if (ranges.some((r) => inRange(r, ip))) return name;
    for (const { name, ranges } of this.builtIn) if (ranges.some((r) => inRange(r, ip))) return name;
    return 'public';
  }

  /**
   * Whether two addresses are on one network as far as approval goes: the same /24 or /64 (the rule the review
   * page warns with), or both inside one configured network (an office spanning several subnets).
   */
  same(a: string, b: string): boolean {
    if (sameNetwork(a, b)) return true;
    const name = this.classify(a);
    return this.named.some((n) => n.name === name) && name === this.classify(b);
  }
}

/**
 * An address in the form Cedar's `ip()` accepts: IPv4-mapped IPv6 unwrapped (a dual-stack socket reports IPv4
 * peers that way), IPv6 zone dropped. Throws {@link PolicyInputError} naming `field` for anything else.
 */
export function normalizeIp(field: string, value: string): string {
  let ip = value.trim();
  if (ip.toLowerCase().startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7);
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (isIP(ip) === 0) throw new PolicyInputError(field, `"${value}" is not an IP address`);
  return ip;
}

function parseRanges(field: string, ranges: readonly string[]): IpRange[] {
  return ranges.map((text) => {
    const range = parseRange(text);
    if (!range) throw new PolicyInputError(field, `"${text}" is not an address or CIDR range`);
    return range;
  });
}
