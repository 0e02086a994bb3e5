import { createHash } from 'node:crypto';
import { authorize, installPolicies, type CedarAnswer, type CedarRequest, type EntityJson } from './cedar.js';
import { STEP_ACTIONS, toCedarRequest, type RequestEnvironment } from './cedar-request.js';
import { interpret } from './decision.js';
import { DEFAULT_POLICY_PACK, DEFAULT_PACK_NAME } from './default-pack.js';
import type { PolicyProblem } from './errors.js';
import { localTimeFunction } from './local-time.js';
import { NetworkClassifier, type NamedNetworks } from './network.js';
import { compilePolicies, type CompiledPolicy, type CompiledPolicySet, type PolicySource } from './policy-set.js';
import type { PolicyDecision, PolicyInput } from './types.js';

/** How an engine builds requests; fixed for its lifetime (policies change, these do not). */
export interface PolicyEngineOptions {
  /** Named address ranges for the `network` attributes (e.g. office, vpn). */
  networks?: NamedNetworks;
  /** The IANA time zone `hour` and `weekday` are in; default UTC. */
  timeZone?: string;
  /**
   * Have Cedar check each request's full entities and context against the schema (default false). The check
   * catches a request-builder defect as a refusal; the tests run with it on for every step. Off, a request carries
   * only the context attributes the loaded policies read, which is what makes a decision cheap enough for the
   * guard to make on every API request (Cedar's cost grows with every attribute it is handed).
   */
  checkRequests?: boolean;
  /**
   * How many Cedar answers to remember (default 4096; 0 turns it off). Cedar's answer is a pure function of the
   * request and the policy set, so an answer is reused for an identical request until the next load. Requests
   * carry only what the policies read, so at the guard the same person calling the same API from the same device
   * is one entry, while a policy reading `hour` or `tokenAgeSeconds` makes entries change with them.
   */
  cacheSize?: number;
}

/** A summary of the set in force. */
export interface LoadedPolicies {
  /** Counts loads that succeeded in this engine: 1 after the first. */
  generation: number;
  /** SHA-256 of the sources, to tell whether a reload changed anything. */
  digest: string;
  policies: readonly { id: string; effect: 'permit' | 'forbid'; source: string; line: number }[];
  warnings: readonly PolicyProblem[];
}

let engines = 0;

/**
 * Decides every step of the device flow and every guarded API request with Cedar policies.
 *
 * `load` parses and validates a set against the schema once and installs it; a set that fails is refused with a
 * {@link PolicyLoadError} and the previous set stays in force. `decide` is synchronous and cheap (the parsed set
 * is reused), so the guard can call it per request.
 *
 * @example
 * const engine = PolicyEngine.withDefaultPack();
 * const d = engine.decide({ step: 'approval', ... });
 * if (d.decision === 'deny') throw policyRefusal('approval', d);
 */
export class PolicyEngine {
  /** Cedar caches parsed sets by id; one id per engine, overwritten by each successful load. */
  private readonly setId = `tether-${process.pid}-${++engines}`;
  private readonly env: RequestEnvironment;
  private readonly checkRequests: boolean;
  /** Per step: the request environment, with the context attributes the set in force reads. */
  private envs: ReadonlyMap<string, RequestEnvironment> = new Map();
  private compiled: CompiledPolicySet | undefined;
  private summary: LoadedPolicies | undefined;
  private readonly cacheSize: number;
  private cache = new Map<string, CedarAnswer>();

  constructor(options: PolicyEngineOptions = {}) {
    this.env = { networks: new NetworkClassifier(options.networks), localTime: localTimeFunction(options.timeZone) };
    this.checkRequests = options.checkRequests ?? false;
    this.cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 4096));
  }

  /** An engine with the default pack loaded. */
  static withDefaultPack(options: PolicyEngineOptions = {}): PolicyEngine {
    const engine = new PolicyEngine(options);
    engine.load(DEFAULT_POLICY_PACK, DEFAULT_PACK_NAME);
    return engine;
  }

  /**
   * Replaces the policy set with `sources` (one text, or several files read as one set). Throws
   * {@link PolicyLoadError} naming each problem's file, line and policy; the set in force is then unchanged.
   */
  load(sources: string | readonly PolicySource[], name = 'policies'): LoadedPolicies {
    const list = typeof sources === 'string' ? [{ name, text: sources }] : sources;
    const compiled = compilePolicies(list);
    installPolicies(this.setId, { ...compiled.texts });
    this.compiled = compiled;
    this.cache = new Map();
    // With the schema check on, Cedar wants every declared attribute, so nothing may be left out.
    this.envs = new Map(
      [...compiled.contextReads].map(([action, reads]) => [action, { ...this.env, reads: this.checkRequests ? 'all' : reads }]),
    );
    this.summary = {
      generation: (this.summary?.generation ?? 0) + 1,
      digest: digestOf(list),
      policies: [...compiled.policies.values()].map((p) => ({
        id: p.id,
        effect: p.effect,
        source: p.location.source,
        line: p.location.line,
      })),
      warnings: compiled.warnings,
    };
    return this.summary;
  }

  /** The set in force, or undefined before the first successful load. */
  get loaded(): LoadedPolicies | undefined {
    return this.summary;
  }

  /**
   * The context attributes the set in force reads at a step ('all' when some policy uses the context whole), or
   * undefined before the first load. A caller that caches decisions keys them by exactly these (the guard does).
   */
  contextReads(step: PolicyInput['step']): ReadonlySet<string> | 'all' | undefined {
    return this.compiled?.contextReads.get(STEP_ACTIONS[step]);
  }

  /** A policy of the set in force, by id (for explaining a decision). */
  policy(id: string): CompiledPolicy | undefined {
    return this.compiled?.policies.get(id);
  }

  /**
   * Decides one step. Throws {@link PolicyInputError} for an input that cannot be a request (e.g. an address that
   * is not one), and a plain Error before any set is loaded: both are caller defects and must not read as a
   * decision. Anything Cedar cannot evaluate comes back as a refusal with cause `error`.
   */
  decide(input: PolicyInput): PolicyDecision {
    const compiled = this.compiled;
    if (!compiled) throw new Error('no policy set is loaded');
    const env = this.envs.get(STEP_ACTIONS[input.step]) ?? this.env;
    const request = toCedarRequest(input, env);
    if (this.cacheSize === 0) return interpret(authorize(this.setId, request, this.checkRequests), input, compiled.policies);
    const key = requestKey(request);
    let answer = this.cache.get(key);
    if (!answer) {
      answer = authorize(this.setId, request, this.checkRequests);
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, answer);
    }
    // What Cedar does not see (the requested scopes' narrowing, the grant's age) is applied afresh every time.
    return interpret(answer, input, compiled.policies);
  }
}

/**
 * The cache key of a request: equal exactly when the requests are. Its parts are JSON texts (each string quoted
 * and escaped, each object whole), which end where they end, so their concatenation reads back one way only; the
 * builder emits keys in a fixed order, so equal requests serialize equally. Serializing the uids and each
 * entity's attributes separately costs half of one JSON.stringify of the whole request (on Node 20, 1.6 µs
 * against 3.3 µs for a device request, paid on every decision).
 */
export function requestKey(request: CedarRequest): string {
  const { principal, action, resource } = request;
  const json = JSON.stringify;
  let key = json(principal.type) + json(principal.id) + json(action.type) + json(action.id) + json(resource.type) + json(resource.id);
  key += json(request.context);
  for (const entity of request.entities) {
    key += uidKey(entity.uid) + json(entity.attrs);
    for (const parent of entity.parents) key += uidKey(parent);
    if (entity.tags !== undefined) key += `#${json(entity.tags)}`;
    // Neither a quote nor a brace: where one entity's parents end.
    key += ';';
  }
  return key;
}

/** An entity uid in either of Cedar's JSON forms (the builder writes the plain one); `@` marks the wrapped one. */
function uidKey(uid: EntityJson['uid']): string {
  if ('__entity' in uid) return `@${JSON.stringify(uid.__entity.type)}${JSON.stringify(uid.__entity.id)}`;
  return JSON.stringify(uid.type) + JSON.stringify(uid.id);
}

/** Digest of a set of sources, independent of how they were split into files. */
export function digestOf(sources: readonly PolicySource[]): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update(`${s.name}\0${s.text}\0`);
  return hash.digest('hex');
}
