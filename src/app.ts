import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { ClientRegistry } from './clients/client-registry.js';
import { registeredClients } from './config/registered-clients.js';
import type { Config } from './config/schema.js';
import { MAX_DEVICE_CODE_TTL } from './oauth/grant-types.js';
import { DeviceDecisions } from './device-flow/decision.js';
import { DpopVerifier } from './dpop/proof.js';
import { ReplayCache } from './dpop/replay-cache.js';
import { ReplayMark } from './dpop/replay-mark.js';
import { AdminKeys } from './admin/admin-keys.js';
import { Guard } from './guard/guard.js';
import { StaticJwks, type KeySource } from './guard/keys.js';
import { silentLogger } from './guard/logger.js';
import { ApiPolicy } from './guard/api-policy.js';
import { RevocationList } from './guard/revocation-list.js';
import { DpopNonces } from './dpop/nonce.js';
import { DeviceCodeGrant } from './grant-types/device-code-grant.js';
import { RefreshTokenGrant } from './grant-types/refresh-token-grant.js';
import { Metrics } from './observability/metrics.js';
import { Revoker } from './revocation/revoker.js';
import { RevocationFeed } from './events/revocation-feed.js';
import { RevocationSetSigner } from './events/revocation-set-signer.js';
import { StreamSlots } from './events/stream-slots.js';
import { MetricsAccess } from './observability/metrics-access.js';
import { resolveKek } from './config/kek.js';
import { ConfigError } from './config/load.js';
import { sweepEndedGrantTokens } from './tokens/refresh-token-retention.js';
import { KeyEncryptionError } from './tokens/key-encryption.js';
import { Checkpointer } from './audit/checkpoint.js';
import { databaseAnswers } from './storage/readiness.js';
import { SqlAuditCheckpoints } from './storage/audit-log.js';
import { IssuedTokenVerifier } from './tokens/issued-token-verifier.js';
import { buildHttpServer } from './http/server.js';
import { workloadView } from './http/routes/workloads.js';
import { randomToken } from './shared/crypto.js';
import { systemClock, type Clock } from './shared/clock.js';
import { SqlBrowserSessionStore } from './storage/browser-sessions.js';
import type { Database } from './storage/schema.js';
import { SqlSettings } from './storage/settings.js';
import { SqlSigningKeyStore } from './storage/signing-keys.js';
import { openStorage } from './storage/open.js';
import { KeyRing } from './tokens/signing-keys.js';
import type { UserDirectory } from './users/user.js';
import { CombinedDirectory } from './users/upstream-users.js';
import { upstreamProviders } from './config/upstream-providers.js';
import { SqlPasskeyStore } from './storage/passkeys.js';
import { SqlSignInCeremonyStore } from './storage/sign-in-ceremonies.js';
import { Passkeys } from './verification/passkeys.js';
import { SignInCeremonies } from './verification/sign-in-ceremony.js';
import { UpstreamSignIn } from './verification/upstream-sign-in.js';
import { BrowserSessions } from './verification/browser-session.js';
import { canonicalUserId } from './users/canonical-id.js';
import { composeVerification } from './compose-verification.js';
import { CachedDeviceStore, DEVICE_CACHE_TTL_MS } from './devices/cached-device-store.js';
import { PolicyGate } from './policy-gate/policy-gate.js';
import { DEFAULT_PACK_NAME, DEFAULT_POLICY_PACK } from './policy/default-pack.js';
import { PolicyEngine } from './policy/engine.js';
import { watchPolicies, type PolicyWatcher } from './policy/watch.js';
import { SqlDeviceStore } from './storage/devices.js';
import { StoredUserDirectory } from './users/stored-user-directory.js';
import { Offboarding, type OffboardHook } from './users/offboarding.js';
import { ScimAccess } from './scim/bearer-access.js';
import { ScimUsers } from './scim/scim-users.js';
import { ScimGroups } from './scim/scim-groups.js';
import { JwtBearerGrant } from './grant-types/jwt-bearer-grant.js';
import { TokenExchangeGrant } from './grant-types/token-exchange-grant.js';
import { SqlWorkloadStore } from './storage/workloads.js';
import { FederationVerifier } from './workloads/federation.js';
import { workloadIdOf, workloadTokenStands } from './workloads/workload.js';
import { WorkloadService } from './workloads/workload-service.js';
import type { WorkloadTokenDeps } from './workloads/workload-tokens.js';

export interface Tether {
  http: FastifyInstance;
  db: Kysely<Database>;
  /** Offboarding of people the directory deactivates or deletes; services that start later add their hook here. */
  offboarding: Offboarding;
  /** Starts listening; resolves to the bound address. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TetherOptions {
  config: Config;
  users: UserDirectory;
  logger: Logger;
  clock?: Clock;
  trustProxy?: boolean;
  /** Where TETHER_KEK is read (the key-encryption key of the signing keys); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Told of every offboarding before the person's grants are revoked (e.g. a workload service suspending theirs). */
  offboardHooks?: readonly OffboardHook[];
}

/** How often expired codes, sessions and in-memory pacing state are cleaned up. */
const CLEANUP_INTERVAL_MS = 60_000;
/** How often the event stream tells guards it is alive. */
const EVENT_HEARTBEAT_MS = 2_000;
/** How long past the longest token lifetime a retiring signing key stays published. */
const KEY_RETIRE_LEEWAY = 60;
/** The settings key of the DPoP replay mark (src/dpop/replay-mark.ts). */
const DPOP_REPLAY_MARK = 'dpop_replay_mark';
/** How often the audit chain's head is signed. */
const CHECKPOINT_INTERVAL_MS = 30_000;

/** The composition root: opens storage, builds the domain services and wires them to HTTP. */
export async function createTether(options: TetherOptions): Promise<Tether> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  // The KEK first: without one nothing is opened (a ConfigError says what to set).
  const kek = resolveKek(config, options.env ?? process.env);
  // Upstream providers' client secrets too: a missing one stops the start before anything is opened.
  const providers = upstreamProviders(config, options.env ?? process.env);
  if (kek.insideDataDir) {
    logger.warn(
      { kek: kek.origin },
      'RISK: the key-encryption key is inside the data dir, so a copy of the data dir holds the signing keys too; keep it elsewhere (TETHER_KEK or keys.kek_file) outside dev',
    );
  }
  const storage = await openStorage(config.storage, config.data_dir, {
    onError: (error) => logger.warn({ err: error }, 'database notification channel interrupted; reconnecting'),
    env: options.env ?? process.env,
  });
  const { db } = storage;
  const settings = new SqlSettings(db);
  const deviceStore = storage.deviceAuthorizations;
  const sessionStore = new SqlBrowserSessionStore(db);
  const ceremonies = new SignInCeremonies(new SqlSignInCeremonyStore(db), clock);
  const keys = await storage
    .startup(() => KeyRing.open(new SqlSigningKeyStore(db), kek.kek, clock))
    .catch(async (error: unknown) => {
      await storage.close();
      // The wrong KEK (or a damaged key row) is a configuration problem: say so, as for a missing KEK.
      throw error instanceof KeyEncryptionError ? new ConfigError(error.message) : error;
    });
  if (keys.sealedOnOpen > 0) {
    // The plaintext rows' old bytes would linger in free pages and the WAL: rebuild what the engine can.
    await storage.compact?.();
    logger.warn({ keys: keys.sealedOnOpen }, 'plaintext signing keys found in the data dir were sealed with the KEK');
  }
  const csrfKey = await settings.getOrCreate('csrf_key', () => randomToken(32));

  // One instance: the in-process window. Several on one database: the shared one, so a proof replayed to another
  // instance is refused too.
  const replay = storage.replay ?? new ReplayCache(clock);
  const clients = new ClientRegistry(registeredClients(config), { replay, clock });
  const pacer = storage.pollPacer(clock);
  // The replay window is in memory (or shared in the database); the mark keeps proofs accepted before a crash from
  // passing after it.
  const replayMark = await ReplayMark.open({
    load: async () => {
      const stored = await settings.get(DPOP_REPLAY_MARK);
      return stored === undefined ? undefined : Number(stored);
    },
    save: (mark) => settings.set(DPOP_REPLAY_MARK, String(mark)),
  });
  const dpop = new DpopVerifier(replay, replayMark);
  const nonces = config.dpop.require_nonce ? new DpopNonces(() => clock.now()) : undefined;
  const proofs = { dpop, nonces };
  // The engine's stores: on SQLite its fast paths (group commit, prepared statements), see storage/open.ts.
  const grantStore = storage.grants;
  const audit = storage.audit;
  const tokenStore = storage.tokens;
  const metrics = new Metrics();
  // The longest an access token can live: statements matter that long, and a retiring key stays published that long.
  const maxTokenTtl = Math.max(
    config.tokens.access_token_ttl,
    ...config.clients.map((c) => c.access_token_ttl ?? 0),
    ...config.resources.map((r) => r.access_token_ttl ?? 0),
  );
  const feed = new RevocationFeed(grantStore, maxTokenTtl, storage.notifications?.revocations);
  const stopFollowing = storage.notifications ? feed.follow(await grantStore.lastRevocationSeq()) : () => undefined;
  const signer = new RevocationSetSigner({ issuer: config.issuer, keys, clock, maxTokenTtl });
  const revoker = new Revoker(grantStore, clock, logger, (statement, revoked) => {
    feed.publish(statement);
    metrics.revocations.inc({ via: statement.via, kind: statement.kind });
    metrics.grantsRevoked.inc({ via: statement.via }, revoked.length);
    if (statement.via === 'refresh_token_reuse') metrics.refreshReuse.inc();
  });
  const verifier = new IssuedTokenVerifier(keys, config.issuer);
  // The stored directory decides who is active and in which groups; local accounts only prove a password.
  const directory = storage.directory;
  await directory
    .seedLocalAccounts(
      config.users.map((u) => ({ id: canonicalUserId(u.username), userName: u.username, displayName: u.name ?? u.username, groups: u.groups })),
      clock.now(),
    )
    .catch(async (error: unknown) => {
      stopFollowing();
      await storage.close();
      throw error;
    });
  // Local accounts as the stored directory has them (active, groups), and the people upstream providers brought in,
  // looked up by id alike (grants, policy, tokens).
  const users = new CombinedDirectory(new StoredUserDirectory(options.users, directory), storage.upstreamUsers);
  // Offboarding ends the person's signed-in verification-page sessions first, so a reactivation revives none.
  const endBrowserSessions: OffboardHook = async ({ userId }) => ({ browser_sessions_ended: await sessionStore.deleteSessionsOfUser(userId) });
  const offboarding = new Offboarding({ revoker, hooks: [endBrowserSessions, ...(options.offboardHooks ?? [])], logger });
  const scimBase = `${config.issuer}/scim/v2`;
  // Policy: the configured set (watched, reloaded on change) or the default pack. A set that does not load stops
  // the start here, before anything listens.
  const policy = new PolicyEngine({ networks: config.policy.networks, timeZone: config.policy.time_zone });
  let policyWatcher: PolicyWatcher | undefined;
  try {
    if (config.policy.path !== undefined) policyWatcher = await watchPolicies(policy, config.policy.path, { logger });
    else policy.load(DEFAULT_POLICY_PACK, DEFAULT_PACK_NAME);
  } catch (error) {
    stopFollowing();
    await storage.close();
    throw error;
  }
  const devices = new CachedDeviceStore(new SqlDeviceStore(db), DEVICE_CACHE_TTL_MS, undefined, storage.notifications?.devices);
  const gate = new PolicyGate({ engine: policy, devices, audit, users, logger });
  const lifetimes = {
    accessTokenTtl: config.tokens.access_token_ttl,
    grantIdleTtl: config.tokens.grant_idle_ttl,
    grantMaxTtl: config.tokens.grant_max_ttl,
  };
  // The server's own keys, read at each lookup so a rotated key is trusted at once.
  const ownKeys: KeySource = { getKey: (kid, alg) => new StaticJwks(keys.jwks()).getKey(kid, alg) };
  // Workloads (docs/workloads.md): the store, trusted external issuers, and how their tokens are issued.
  const workloadStore = new SqlWorkloadStore(db);
  const federation = new FederationVerifier(
    config.federation.issuers.map((i) => ({
      issuer: i.issuer,
      ...(i.jwks_uri !== undefined ? { jwksUri: i.jwks_uri } : {}),
      audience: i.audience,
      algorithms: i.algorithms,
      maxTokenAge: i.max_token_age,
    })),
  );
  // Guards keep a statement only for the longest token lifetime, so no workload token may outlive that.
  const workloadTokenTtl = Math.min(config.workloads.access_token_ttl, config.tokens.access_token_ttl);
  const workloadTokens: WorkloadTokenDeps = {
    issuer: config.issuer,
    keys,
    store: workloadStore,
    audit,
    policy: gate,
    clock,
    resource: (uri) => clients.resource(uri),
    scopes: config.scopes,
    accessTokenTtl: workloadTokenTtl,
  };
  const workloads = new WorkloadService({
    store: workloadStore,
    policy: gate,
    revoker,
    clock,
    resource: (uri) => clients.resource(uri),
    scopes: config.scopes,
    trustsIssuer: (issuer) => federation.trusts(issuer),
    maxTtl: config.workloads.max_ttl,
  });
  // A person the directory offboards (SCIM deactivation or deletion) has their workloads suspended in the same step,
  // before their grants are revoked; the count goes into the user.offboarded event.
  offboarding.addHook(async ({ userId, actor, reason }) => ({
    workloads_suspended: (await workloads.offboard(userId, actor, `${reason} by the directory`)).length,
  }));
  /**
   * Whether a token this server issued has been revoked, asked where the server checks its own tokens: a person's
   * (or delegated) token by its grant; a workload's by its workload (suspended, re-keyed, deleted or expired after
   * the token was issued).
   */
  const isRevokedHere = async (claims: Readonly<Record<string, unknown>>): Promise<boolean> => {
    const workloadId = workloadIdOf(String(claims['sub'] ?? ''));
    if (workloadId !== undefined) {
      const workload = await workloadStore.find(workloadId);
      const iat = typeof claims['iat'] === 'number' ? claims['iat'] : 0;
      return !workload || !workloadTokenStands(workload, iat, clock.now());
    }
    const grant = await grantStore.findGrant(String(claims['sid'] ?? ''));
    return !grant || grant.status !== 'active' || grant.expiresAt <= clock.now();
  };
  // The workload API takes a person's DPoP-bound token for any of the tenant's APIs: the proof, bound to this URL,
  // is what keeps an API that received the token from replaying it here.
  const workloadApiGuard = new Guard({
    issuer: config.issuer,
    audience: config.resources.map((r) => r.uri),
    keys: ownKeys,
    revocations: { health: () => ({ fresh: true }), isRevoked: (token) => isRevokedHere(token.claims) },
    logger: silentLogger,
    now: () => clock.now(),
  });
  // The dev/demo API at {issuer}/api, behind the same Guard a resource server uses.
  // It also hears the statements a gateway hears, for those that end tokens but not grants (a device's trust taken
  // away). Only those made since the start: a demo, not a guard that must survive restarts.
  const demoStatements = new RevocationList();
  feed.subscribe((s) => demoStatements.apply({ ...s, seq: s.seq ?? 0, relevantUntil: s.createdAt + maxTokenTtl }));
  const demoAudience = `${config.issuer}/api`;
  const demoApi = clients.resource(demoAudience)
    ? new Guard({
        issuer: config.issuer,
        audience: demoAudience,
        keys: ownKeys,
        now: () => clock.now(),
        // The server's own policies decide its own API too (CallResource), reloads included.
        policy: ApiPolicy.over(policy, { audience: demoAudience, tier: clients.resource(demoAudience)?.tier ?? 'low' }),
        // Revocation is asked of storage (grants, and workloads for a workload's token), so it is never stale.
        revocations: {
          health: () => ({ fresh: true }),
          isRevoked: async (token) => (await isRevokedHere(token.claims)) || demoStatements.covers(token, clock.now()),
        },
        logger: silentLogger,
      })
    : undefined;
  for (const client of clients.all()) {
    if (client.allowBearer) {
      logger.warn({ client: client.id }, 'RISK: this client may get plain Bearer tokens, usable by anyone who copies them');
    }
  }
  const decisions = new DeviceDecisions(deviceStore, clients, clock, lifetimes, gate);
  const guessing = composeVerification({ config, audit, metrics, logger, clock, users, decisions, store: deviceStore, counts: storage.failureCounts });
  const deviceRequest = {
    issuer: config.issuer,
    clients,
    store: deviceStore,
    clock,
    defaults: { codeTtl: config.device_flow.code_ttl, interval: config.device_flow.interval },
    policy: gate,
    limits: guessing.deviceLimits,
  };
  const issuing = { issuer: config.issuer, clients, grants: grantStore, proofs, keys, clock, lifetimes, policy: gate };
  const grants = [
    new DeviceCodeGrant({ ...issuing, store: deviceStore, pacer }),
    new RefreshTokenGrant({ ...issuing, tokens: tokenStore, revoker }),
    new TokenExchangeGrant({
      issuer: config.issuer,
      proofs,
      clock,
      keys,
      workloads: workloadStore,
      federation,
      issuing: workloadTokens,
      verifier,
      grants: grantStore,
      clients,
      policy: gate,
      audit,
      delegationTtl: workloadTokenTtl,
    }),
    new JwtBearerGrant({ issuer: config.issuer, proofs, clock, workloads: workloadStore, issuing: workloadTokens }),
  ];
  const http = buildHttpServer({
    issuer: config.issuer,
    scopes: config.scopes,
    logger,
    trustProxy: options.trustProxy ?? false,
    trustedProxies: config.listen.trusted_proxies,
    keys,
    dpop,
    deviceRequest,
    grants,
    nonces,
    clients,
    revocation: { grants: grantStore, tokens: tokenStore, verifier, revoker, clock },
    introspection: { issuer: config.issuer, audit, grants: grantStore, tokens: tokenStore, verifier, clock },
    demoApi,
    admin: {
      keys: new AdminKeys(config.admin.api_key_hashes),
      revoker,
      revocations: grantStore,
      devices,
      clock,
      signingKeys: {
        keys,
        publishAhead: config.keys.publish_ahead,
        // Leeway for verifiers that accept a token a little past its exp (the guard's clock tolerance).
        retireAfter: maxTokenTtl + KEY_RETIRE_LEEWAY,
        audit: (events) => audit.record(events),
        now: () => clock.now(),
      },
      offboard: async (userId, actor, reason) => (await workloads.offboard(userId, actor, reason)).length,
      workloads: async () => (await workloads.all()).map((w) => workloadView(w, clock.now(), config.workloads.stale_after)),
    },
    workloads: { issuer: config.issuer, service: workloads, guard: workloadApiGuard, staleAfter: config.workloads.stale_after, now: () => clock.now() },
    devices,
    ready: () => databaseAnswers(db),
    metrics,
    metricsAccess: new MetricsAccess(config.metrics.bearer_token_hashes, config.metrics.allow_loopback),
    events: {
      issuer: config.issuer,
      clients,
      feed,
      signer,
      slots: new StreamSlots(config.events.max_streams_per_client),
      clock,
      heartbeatMs: EVENT_HEARTBEAT_MS,
    },
    verification: {
      issuer: config.issuer,
      metrics,
      sessions: new BrowserSessions(sessionStore, clock, csrfKey),
      decisions,
      codeEntry: guessing.codeEntry,
      signIn: guessing.signIn,
      users,
      clock,
      localAccounts: config.users.length > 0,
      ...(providers.length > 0
        ? {
            upstream: new UpstreamSignIn({
              providers,
              ceremonies,
              users,
              audit,
              clock,
              redirectUri: (name) => new URL(`/device/callback/${name}`, config.issuer).href,
            }),
          }
        : {}),
      // WebAuthn's relying party is a domain: with an issuer at an IP address there are no passkeys.
      ...(isIP(new URL(config.issuer).hostname.replace(/^\[|\]$/g, '')) === 0
        ? {
            passkeys: new Passkeys({
              store: new SqlPasskeyStore(db),
              ceremonies,
              users,
              audit,
              clock,
              rpId: new URL(config.issuer).hostname,
              origin: new URL(config.issuer).origin,
              rpName: 'Tether',
            }),
          }
        : {}),
    },
    scim: {
      users: new ScimUsers({ store: directory, offboarding, clock, baseUrl: scimBase }),
      groups: new ScimGroups({ store: directory, clock, baseUrl: scimBase }),
      access: new ScimAccess(config.scim.bearer_token_hashes),
      baseUrl: scimBase,
    },
  });

  const checkpointer = new Checkpointer(new SqlAuditCheckpoints(db), keys, () => clock.now());
  const checkpointTimer = setInterval(() => {
    checkpointer.checkpoint().catch((error: unknown) => logger.error({ err: error }, 'audit checkpoint failed'));
  }, CHECKPOINT_INTERVAL_MS);
  checkpointTimer.unref();

  // A person gone from the user directory is offboarded: their workloads stop (docs/workloads.md).
  const offboardDeparted = async () => {
    // The stored directory: a person it deactivated or deleted, or a local account taken out of the configuration.
    const departed = await workloads.offboardDeparted(async (id) => (await users.find(id)) !== undefined);
    if (departed.length > 0) logger.info({ owners: departed.length }, 'offboarded workload owners no longer in the user directory');
  };
  await offboardDeparted().catch((error: unknown) => logger.error({ err: error }, 'workload offboarding failed'));
  const cleanup = async () => {
    const now = clock.now();
    await pacer.sweep();
    await guessing.sweep();
    // A rotation made by another process on the same database reaches this one here.
    await keys.reload();
    const codes = await deviceStore.deleteExpired(now);
    const sessions = await sessionStore.deleteExpiredSessions(now);
    await ceremonies.sweep();
    const jtis = await workloadStore.deleteExpiredJtis(now);
    const ended = await sweepEndedGrantTokens(tokenStore, now);
    await offboardDeparted();
    if (codes + sessions + jtis > 0) logger.debug({ codes, sessions, jtis }, 'expired state cleaned up');
    if (ended.refreshTokens + ended.legacyAccessTokens > 0) logger.debug(ended, 'tokens of ended grants deleted');
  };
  const timer = setInterval(() => {
    cleanup().catch((error: unknown) => logger.error({ err: error }, 'cleanup failed'));
  }, CLEANUP_INTERVAL_MS);
  timer.unref();

  return {
    http,
    db,
    offboarding,
    listen: () => http.listen({ host: config.listen.host, port: config.listen.port }),
    async close() {
      policyWatcher?.close();
      clearInterval(timer);
      clearInterval(checkpointTimer);
      await http.close();
      stopFollowing();
      await checkpointer.checkpoint();
      await storage.close();
    },
  };
}
