import { randomInt } from 'node:crypto';

/**
 * The RFC 8628 §6.1 alphabet: consonants only, so codes cannot spell words and survive case changes.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-6.1
 */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/**
 * Twelve letters: 20^12 ≈ 2^51.9 codes. Eight (2^34.6) cannot keep a guesser with one account below 2^-20 a month
 * once thousands of codes are live; the arithmetic is in docs/configuration.md ("brute_force").
 */
export const USER_CODE_LENGTH = 12;
export const USER_CODE_SPACE = USER_CODE_ALPHABET.length ** USER_CODE_LENGTH;
/** Letters per group as shown (XXXX-XXXX-XXXX): short groups are easier to read off a terminal and compare. */
const GROUP = 4;

/** What a person is told when what they typed cannot be a code. */
export const USER_CODE_HINT =
  `A code is ${USER_CODE_LENGTH} letters in groups of ${GROUP}, like BCDF-GHJK-LMNP. ` +
  `Codes use only the letters ${USER_CODE_ALPHABET} (no vowels, no digits).`;

/** A new user code in its stored (normalized) form: 12 letters, no dash. */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** How a person sees a code: XXXX-XXXX-XXXX. */
export function formatUserCode(code: string): string {
  const groups: string[] = [];
  for (let i = 0; i < code.length; i += GROUP) groups.push(code.slice(i, i + GROUP));
  return groups.join('-');
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
