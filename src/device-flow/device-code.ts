import { randomFillSync } from 'node:crypto';
import { digestsEqual, hashSecret } from '../shared/crypto.js';
import type { DeviceAuthorization, DeviceAuthorizationStore } from './device-authorization.js';

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

/** Between the row id and the secret; in neither alphabet (UUID hex and dashes, base64url), so it splits once. */
const SEPARATOR = '.';

/**
 * A device code for the request stored under `id`: `<id>.<secret>`, the secret 32 random bytes (256 bits, well
 * beyond guessing). The id lets the token endpoint find the row by primary key, so no index by the code's hash is
 * kept (that index was a random page of WAL per request); the id is no secret and proves nothing: only the SHA-256
 * of the whole code is stored, and a code is taken only when that hash matches (`findByDeviceCode`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-5.2 (device code brute forcing: the secret's 256 bits)
 */
export function generateDeviceCode(id: string): { code: string; hash: string } {
  const code = `${id}${SEPARATOR}${randomText(32)}`;
  return { code, hash: hashSecret(code) };
}

/**
 * The request a device code belongs to, or undefined: unknown, malformed, or a right id with a wrong secret,
 * which the caller cannot tell apart (each is "unknown"). The stored hash is compared in constant time. A code
 * without a row id was handed out before codes named their row (migration 0008) and is looked up by its hash
 * among those, as every code was before.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export async function findByDeviceCode(
  store: Pick<DeviceAuthorizationStore, 'findById' | 'findByLegacyDeviceCodeHash'>,
  code: string,
): Promise<DeviceAuthorization | undefined> {
  const hash = hashSecret(code);
  const at = code.indexOf(SEPARATOR);
  const found = at === -1 ? await store.findByLegacyDeviceCodeHash(hash) : await store.findById(code.slice(0, at));
  return found !== undefined && digestsEqual(found.deviceCodeHash, hash) ? found : undefined;
}
