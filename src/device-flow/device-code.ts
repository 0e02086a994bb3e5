import { hashSecret, randomToken } from '../shared/crypto.js';

/** 32 random bytes: 256 bits, well beyond guessing; only its SHA-256 is stored. */
export function generateDeviceCode(): { code: string; hash: string } {
  const code = randomToken(32);
  return { code, hash: hashSecret(code) };
}
