import { randomBytes } from 'node:crypto';

/**
 * Refresh tokens look like `tether_rt_<32 random base62><6 base62 CRC-32>`, in the manner of GitHub's token
 * formats: the prefix lets secret scanners find them, and the checksum lets them tell a real token from a random
 * look-alike offline, without asking the server. Written by hand because no library does this one thing.
 */
export const REFRESH_TOKEN_PREFIX = 'tether_rt_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ENTROPY_CHARS = 32; // 32 × log2(62) ≈ 190 bits
const CHECKSUM_CHARS = 6; // 62^6 > 2^32
/** What a scanner greps for; confirm each hit with isWellFormedRefreshToken. */
export const REFRESH_TOKEN_PATTERN = /\btether_rt_[0-9A-Za-z]{38}\b/g;

export function generateRefreshToken(): string {
  let body = '';
  // Rejection sampling keeps every character uniform: 248 is the largest multiple of 62 below 256.
  while (body.length < ENTROPY_CHARS) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && body.length < ENTROPY_CHARS) body += BASE62[byte % 62];
    }
  }
  return `${REFRESH_TOKEN_PREFIX}${body}${checksum(body)}`;
}

/** True when the text has the prefix, the length and a matching checksum. */
export function isWellFormedRefreshToken(token: string): boolean {
  if (!token.startsWith(REFRESH_TOKEN_PREFIX)) return false;
  const rest = token.slice(REFRESH_TOKEN_PREFIX.length);
  if (rest.length !== ENTROPY_CHARS + CHECKSUM_CHARS || !/^[0-9A-Za-z]+$/.test(rest)) return false;
  return checksum(rest.slice(0, ENTROPY_CHARS)) === rest.slice(ENTROPY_CHARS);
}

function checksum(body: string): string {
  let n = crc32(Buffer.from(body, 'ascii'));
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (CRC_TABLE[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
