import { randomInt } from 'node:crypto';

/**
 * The RFC 8628 §6.1 alphabet: consonants only, so codes cannot spell words and survive case changes.
 * 20^8 ≈ 2^34.6 possible codes.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-6.1
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
export const USER_CODE_SPACE = USER_CODE_ALPHABET.length ** USER_CODE_LENGTH;

/** A new user code in its stored (normalized) form: 8 letters, no dash. */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** How a person sees a code: XXXX-XXXX. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What a person typed, as a stored code: case-insensitive, dashes and white space ignored (RFC 8628 §6.1).
 * Returns undefined when it cannot be a code at all, so no lookup (and no failed-attempt charge) is spent on typos
 * such as a vowel or a digit.
 */
export function normalizeUserCode(input: string): string | undefined {
  const code = input.replace(/[\s-]+/g, '').toUpperCase();
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}
