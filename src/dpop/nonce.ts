import { createHmac } from 'node:crypto';
import { constantTimeEqual, randomToken } from '../shared/crypto.js';

/** A nonce lives for one period and is accepted through the next, so a client never races a rotation. */
const PERIOD_SECONDS = 120;

/**
 * Server-provided DPoP nonces (RFC 9449 §8) without storage: a nonce is an HMAC of the current time slot, so every
 * request can be checked in constant time and a restart (new key) just makes clients fetch a fresh one.
 */
export class DpopNonces {
  private readonly key = randomToken(32);

  constructor(private readonly now: () => number) {}

  current(): string {
    return this.forSlot(Math.floor(this.now() / PERIOD_SECONDS));
  }

  isValid(nonce: string | undefined): boolean {
    if (nonce === undefined) return false;
    const slot = Math.floor(this.now() / PERIOD_SECONDS);
    return constantTimeEqual(nonce, this.forSlot(slot)) || constantTimeEqual(nonce, this.forSlot(slot - 1));
  }

  private forSlot(slot: number): string {
    return createHmac('sha256', this.key).update(String(slot)).digest('base64url');
  }
}
