import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids, drawn from the CSPRNG a batch at a time, as Node's own randomUUID does: one
 * randomBytes(16) call per id cost more than the rest of a device authorization's bookkeeping. Ids are not
 * secrets; codes and tokens still take their bytes straight from randomBytes.
 */
const BATCH = 4096;
const pool = Buffer.allocUnsafe(BATCH);
let offset = BATCH;

/**
 * A UUIDv7 (RFC 9562 §5.7): milliseconds since the epoch first, then randomness. Rows keyed by these are inserted
 * in order, so a busy table's index grows at one end instead of touching a random page per insert. Node 20 has
 * no generator for it, and it is a dozen lines.
 */
export function uuidv7(now = Date.now()): string {
  if (offset + 10 > BATCH) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(now, 0, 6);
  pool.copy(bytes, 6, offset, offset + 10);
  offset += 10;
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
