import type { KeyObject } from 'node:crypto';
import { importPublicJwk, type JwsAlgorithm } from '../dpop/jws.js';
import { silentLogger, type GuardLogger } from './logger.js';

/**
 * Where the guard gets the authorization server's public keys: for access tokens and for the signed events of the
 * revocation stream.
 */
export interface KeySource {
  /**
   * The key for a JWS whose header names `kid` and `alg`; undefined when the issuer has no such key. Throws
   * {@link KeysUnavailable} when it cannot tell (the key set could not be fetched and none is known).
   */
  getKey(kid: string | undefined, alg: JwsAlgorithm): Promise<KeyObject | undefined>;
}

/** The issuer's key set could not be obtained, so no token can be checked: the guard answers 503, not 401. */
export class KeysUnavailable extends Error {
  readonly code = 'keys_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'KeysUnavailable';
  }
}

interface PublishedKey {
  kid: string | undefined;
  jwk: Record<string, unknown>;
  /** Imported once per algorithm: importing costs about as much as a verification. */
  imported: Map<JwsAlgorithm, KeyObject | null>;
}

function publishedKeys(body: unknown): PublishedKey[] | undefined {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return undefined;
  const out: PublishedKey[] = [];
  for (const jwk of keys) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    const { kid, use } = jwk as { kid?: unknown; use?: unknown };
    if (use !== undefined && use !== 'sig') continue;
    out.push({ kid: typeof kid === 'string' ? kid : undefined, jwk: jwk as Record<string, unknown>, imported: new Map() });
  }
  return out;
}

function pick(keys: readonly PublishedKey[], kid: string | undefined, alg: JwsAlgorithm): KeyObject | undefined {
  const matches = kid === undefined ? keys : keys.filter((k) => k.kid === kid);
  for (const entry of matches) {
    const declared = entry.jwk['alg'];
    if (typeof declared === 'string' && declared !== alg) continue;
    let key = entry.imported.get(alg);
    if (key === undefined) {
      key = importPublicJwk(entry.jwk, alg) ?? null;
      entry.imported.set(alg, key);
    }
    // Without a kid, a key is taken only when it is the one key of its kind: guessing among several is not safe.
    if (key && (kid !== undefined || matches.length === 1)) return key;
  }
  return undefined;
}

/** A fixed key set, e.g. the server's own keys for its in-process demo API, or keys configured by hand. */
export class StaticJwks implements KeySource {
  private readonly keys: PublishedKey[];

  constructor(jwks: { keys: readonly object[] }) {
    this.keys = publishedKeys(jwks) ?? [];
  }

  async getKey(kid: string | undefined, alg: JwsAlgorithm): Promise<KeyObject | undefined> {
    return pick(this.keys, kid, alg);
  }
}

export interface RemoteJwksOptions {
  /** The issuer's `jwks_uri`. */
  url: string;
  /** Refetch a key set this old on the next use, so retired keys stop being trusted (default 10 minutes). */
  maxAgeMs?: number;
  /**
   * The shortest time between two fetches caused by unknown `kid`s (default 5 s), so a stream of made-up kids
   * cannot turn the guard into a load generator against the authorization server.
   */
  cooldownMs?: number;
  fetch?: typeof fetch;
  logger?: GuardLogger;
  nowMs?: () => number;
}

/** How many unknown kids are remembered as "already fetched for". */
const TRIED_KID_LIMIT = 1_000;
const FETCH_TIMEOUT_MS = 5_000;

/**
 * The issuer's JWKS fetched over HTTP and cached with its imported keys. A `kid` not in the cache triggers one
 * refetch (key rotation publishes the new key before using it); a kid still unknown after that is refused without
 * fetching again for it. Concurrent lookups share one fetch. If a refresh fails, the keys already known stay in use.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2 (jwks_uri)
 */
export class RemoteJwks implements KeySource {
  private keys: PublishedKey[] | undefined;
  private fetchedAtMs = -Infinity;
  private lastUnknownKidFetchMs = -Infinity;
  private inflight: Promise<void> | undefined;
  private readonly tried = new Set<string>();
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly fetch: typeof fetch;
  private readonly logger: GuardLogger;
  private readonly nowMs: () => number;

  constructor(private readonly options: RemoteJwksOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 600_000;
    this.cooldownMs = options.cooldownMs ?? 5_000;
    this.fetch = options.fetch ?? fetch;
    this.logger = options.logger ?? silentLogger;
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  async getKey(kid: string | undefined, alg: JwsAlgorithm): Promise<KeyObject | undefined> {
    if (!this.keys || this.nowMs() - this.fetchedAtMs > this.maxAgeMs) {
      await this.refresh();
      // A fresh set every maxAge: kids that were missing before may be looked up once more.
      this.tried.clear();
    }
    const keys = this.keys;
    if (!keys) throw new KeysUnavailable('The issuer key set could not be fetched.');
    const found = pick(keys, kid, alg);
    if (found || kid === undefined || this.tried.has(kid)) return found;
    if (this.nowMs() - this.lastUnknownKidFetchMs < this.cooldownMs) return undefined;
    this.lastUnknownKidFetchMs = this.nowMs();
    if (this.tried.size >= TRIED_KID_LIMIT) this.tried.clear();
    this.tried.add(kid);
    await this.refresh();
    return this.keys ? pick(this.keys, kid, alg) : undefined;
  }

  /** Fetches the key set now (joins a fetch already under way). Never throws: a failure keeps what is known. */
  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    try {
      const response = await this.fetch(this.options.url, {
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const keys = publishedKeys(await response.json());
      if (!keys) throw new Error('the response is not a JWK set');
      this.keys = keys;
      this.fetchedAtMs = this.nowMs();
    } catch (error) {
      this.logger.warn({ url: this.options.url, err: (error as Error).message }, 'guard: could not fetch the issuer key set');
    }
  }
}
