import { z } from 'zod';
import { absoluteUri, duration, scopeToken } from './field-types.js';

const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const amrValue = z.string().min(1).max(64);

/** An upstream OpenID Connect provider people sign in through (docs/sign-in.md). */
export const upstreamProviderSchema = z
  .object({
    name: z
      .string()
      .regex(PROVIDER_NAME, 'a provider name is a lower-case letter, then lower-case letters, digits or -, at most 32')
      .describe('Short name: the callback is /device/callback/<name>, policy sees authMethod "upstream:<name>".'),
    issuer: absoluteUri.describe('The provider\'s issuer URL; its /.well-known/openid-configuration is discovered.'),
    client_id: z.string().min(1).describe('Tether\'s client id at the provider.'),
    client_secret_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .optional()
      .describe('Environment variable holding the client secret (never written in the YAML).'),
    client_secret_file: z.string().min(1).optional().describe('File holding the client secret (one line).'),
    scopes: z
      .array(scopeToken)
      .default(['openid', 'email', 'profile'])
      .describe('Scopes asked for at the provider; "openid" is always sent.'),
    claims: z
      .object({
        username: z.string().min(1).default('preferred_username').describe('claim holding the username shown and audited'),
        display_name: z.string().min(1).default('name').describe('claim holding the display name'),
        groups: z.string().min(1).default('groups').describe('claim holding the groups (an array of strings, or one string)'),
      })
      .strict()
      .prefault({})
      .describe('Which ID token claims give the username, display name and groups.'),
    allowed_email_domains: z
      .array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain such as example.com'))
      .default([])
      .describe('When set, only people whose verified email is in one of these domains may sign in.'),
    display_label: z.string().min(1).max(60).optional().describe('The button says "Sign in with <label>" (default: the name).'),
    mfa_amr: z
      .array(amrValue)
      .default(['mfa', 'otp', 'hwk', 'sms', 'sc'])
      .describe('amr values that mean a multi-factor sign-in (RFC 8176): any one of them sets context.mfa.'),
    phishing_resistant_amr: z
      .array(amrValue)
      .default(['hwk'])
      .describe('amr values that mean a phishing-resistant sign-in (a security key or passkey): any one sets context.phishingResistant.'),
    mfa_acr: z.array(z.string().min(1)).default([]).describe('acr values that mean a multi-factor sign-in.'),
    phishing_resistant_acr: z.array(z.string().min(1)).default([]).describe('acr values that mean a phishing-resistant sign-in.'),
    timeout: duration('how long a request to the provider (discovery, token) may take').default(10),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.client_secret_env !== undefined && p.client_secret_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_secret_env'], message: 'give client_secret_env or client_secret_file, not both' });
    }
  });
