// npm oidc-provider ships no type declarations; the tests use a handful of its calls (test/sso/real-provider.ts).
declare module 'oidc-provider';
