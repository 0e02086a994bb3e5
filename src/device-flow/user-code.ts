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


/**
 * Why what a person typed cannot be a code, in terms they can act on: the characters codes never use, or the
 * length. Undefined when it could be one.
 */
export function userCodeProblem(input: string): { kind: 'letters'; unused: string[] } | { kind: 'length'; letters: number } | undefined {
  const code = input.replace(/[\s-]+/g, '').toUpperCase();
  const unused = [...new Set([...code].filter((ch) => !USER_CODE_ALPHABET.includes(ch)))];
  if (unused.length > 0) return { kind: 'letters', unused };
  if (code.length !== USER_CODE_LENGTH) return { kind: 'length', letters: code.length };
  return undefined;
}

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
