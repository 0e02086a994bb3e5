import { randomFillSync } from 'node:crypto';
import { hashSecret } from '../shared/crypto.js';

/**
 * CSPRNG bytes drawn a page at a time, as Node's own randomInt (user codes) and randomUUID do: one randomBytes(32)
 * call per code cost more than the rest of minting it. Each byte is handed out once and zeroed as it leaves, so
 * the pool never holds a code already given out.
 */
const POOL = 4096;
const pool = Buffer.alloc(POOL);
let offset = POOL;

function randomText(bytes: number): string {
  if (offset + bytes > POOL) {
    randomFillSync(pool);
    offset = 0;
  }
  const text = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return text;
}

/** 32 random bytes: 256 bits, well beyond guessing; only its SHA-256 is stored. */
export function generateDeviceCode(): { code: string; hash: string } {
  const code = randomText(32);
  return { code, hash: hashSecret(code) };
}
