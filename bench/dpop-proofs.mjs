// DPoP proofs (RFC 9449 §4.2) as real clients send them: ES256, typ dpop+jwt, the public jwk in the header,
// htm/htu/iat and a fresh random jti each. They are signed ahead of the timed run because signing on the load
// side would otherwise cap the request rate (jose signs ~8k/s one at a time, ~13k/s when batched on one core).
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

/** `count` client keys, each with its public JWK ready for the proof header. */
export async function clientKeys(count) {
  const keys = [];
  for (let i = 0; i < count; i++) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const { kty, crv, x, y } = await exportJWK(publicKey);
    keys.push({ privateKey, jwk: { kty, crv, x, y } });
  }
  return keys;
}

function proof(key, htu) {
  return new SignJWT({ htm: 'POST', htu, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

/**
 * Proofs for request numbers [from, from + count): request k polls device k mod devices, and device d owns key
 * floor(d / devicesPerKey), so each device always proves with the same key, as a real one would.
 */
export async function signProofs({ keys, htu, from, count, devices, devicesPerKey }) {
  const out = new Array(count);
  const BATCH = 512; // WebCrypto signs asynchronously; batching keeps the thread pool busy
  for (let start = 0; start < count; start += BATCH) {
    const end = Math.min(count, start + BATCH);
    const batch = [];
    for (let i = start; i < end; i++) {
      const device = (from + i) % devices;
      batch.push(proof(keys[Math.floor(device / devicesPerKey) % keys.length], htu));
    }
    const signed = await Promise.all(batch);
    for (let i = start; i < end; i++) out[i] = signed[i - start];
  }
  return out;
}
