import { PASSWORD_SIGN_IN, type Authentication } from '../users/user.js';

/** A sign-in as stored (browser sessions, grants: migration 0004-sso). */
export function authenticationJson(a: Authentication): string {
  return JSON.stringify({ method: a.method, mfa: a.mfa, phishingResistant: a.phishingResistant, acr: a.acr, amr: a.amr });
}

/** A stored sign-in as policy reads it; a row from before 0004-sso, or one that does not parse, was a password. */
export function authenticationOf(stored: string | null | undefined): Authentication {
  if (stored === null || stored === undefined) return PASSWORD_SIGN_IN;
  try {
    const v = JSON.parse(stored) as Partial<Authentication>;
    const method = typeof v.method === 'string' && (v.method === 'pwd' || v.method === 'passkey' || v.method.startsWith('upstream:')) ? v.method : 'pwd';
    return {
      method,
      mfa: v.mfa === true,
      phishingResistant: v.phishingResistant === true,
      acr: typeof v.acr === 'string' ? v.acr : '',
      amr: Array.isArray(v.amr) ? v.amr.filter((x): x is string => typeof x === 'string') : [],
    };
  } catch {
    return PASSWORD_SIGN_IN;
  }
}
