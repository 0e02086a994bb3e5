import type { CedarRequest, CedarUid, CedarValueJson, EntityJson } from './cedar.js';
import { PolicyInputError } from './errors.js';
import type { LocalTime } from './local-time.js';
import { normalizeIp, type NetworkClassifier } from './network.js';
import {
  DEVICE_CLASSES,
  RESOURCE_TIERS,
  type ApiRequestInput,
  type ApprovalInput,
  type DeviceFacts,
  type DeviceRequestInput,
  type IssueInput,
  type PolicyInput,
  type PolicyStep,
  type RefreshInput,
  type ResourceFacts,
  type UserFacts,
  type DelegationInput,
  type WorkloadCreationInput,
  type WorkloadExchangeInput,
  type WorkloadFacts,
} from './types.js';

/** The Cedar action for each step. */
export const STEP_ACTIONS: Readonly<Record<PolicyStep, string>> = {
  device_authorization: 'RequestDeviceCode',
  approval: 'Approve',
  issuance: 'Issue',
  refresh: 'Refresh',
  api: 'CallResource',
  workload_creation: 'CreateWorkload',
  workload_exchange: 'ExchangeToken',
  delegation: 'Delegate',
};

/** What building a request needs besides the input. */
export interface RequestEnvironment {
  networks: NetworkClassifier;
  localTime: (epochSeconds: number) => LocalTime;
  /**
   * The context attributes the policies read for the step's action: when given, the request carries only those
   * (and only the entities they reach). Cedar's cost grows with every attribute it is handed, and an attribute no
   * policy reads cannot change a decision. Absent or 'all': the full context, as the schema declares it.
   */
  reads?: ReadonlySet<string> | 'all';
}

const uid = (type: string, id: string): CedarUid => ({ type: `Tether::${type}`, id });
const ref = (u: CedarUid): CedarValueJson => ({ __entity: u });
const ip = (address: string): CedarValueJson => ({ __extn: { fn: 'ip', arg: address } });

/**
 * Turns one step's typed input into a Cedar request: entities for the principal, the resource, the client and the
 * device, and the context the schema declares for the step's action. Inputs are checked here, at the boundary, so
 * a wrong value names its field instead of surfacing as an opaque Cedar error.
 */
export function toCedarRequest(input: PolicyInput, env: RequestEnvironment): CedarRequest {
  switch (input.step) {
    case 'device_authorization':
      return deviceRequest(input, env);
    case 'approval':
      return approval(input, env);
    case 'issuance':
    case 'refresh':
      return token(input, env);
    case 'api':
      return api(input, env);
    case 'workload_creation':
      return workloadCreation(input, env);
    case 'workload_exchange':
      return workloadExchange(input, env);
    case 'delegation':
      return delegation(input, env);
    default:
      throw new PolicyInputError('step', `"${String((input as { step: unknown }).step)}" is not a policy step`);
  }
}

function deviceRequest(input: DeviceRequestInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  const client = b.client();
  const reads = env.reads;
  if (reads === undefined || reads === 'all') {
    return b.finish(client, {
      ...b.common(),
      environment: input.environment ?? '',
      ...b.origin('requester', input.requester),
    });
  }
  // Every device authorization is decided, so only what the policies in force read is worked out (the default
  // pack reads the device and the declared environment: no clock, no network classification). The address is
  // checked whatever they read: a value that is not one is a caller defect, not something policy may ignore.
  const address = normalizeIp('requester.ip', input.requester.ip);
  const context: Record<string, CedarValueJson> = {};
  for (const key of reads) {
    const value = deviceContext(key, input, address, b, env);
    if (value !== undefined) context[key] = value;
  }
  return b.finish(client, context);
}

/** One context attribute of RequestDeviceCode, as deviceRequest's full context would have it. */
function deviceContext(key: string, input: DeviceRequestInput, address: string, b: Builder, env: RequestEnvironment): CedarValueJson | undefined {
  switch (key) {
    case 'client':
    case 'device':
    case 'scopes':
      return b.common()[key];
    case 'hour':
      return env.localTime(input.now).hour;
    case 'weekday':
      return env.localTime(input.now).weekday;
    case 'environment':
      return input.environment ?? '';
    case 'ip':
      return ip(address);
    case 'network':
      return env.networks.classify(address);
    case 'userAgent':
      return input.requester.userAgent ?? '';
    default:
      return undefined;
  }
}

function approval(input: ApprovalInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  const approver = b.originFacts('approver', input.approver);
  const requester = b.originFacts('requester', input.requester);
  return b.finish(b.user(input.user), {
    ...b.common(),
    environment: input.environment ?? '',
    authMethod: input.signIn.method,
    authAgeSeconds: age(input.now, input.signIn.at, 'signIn.at'),
    mfa: input.signIn.mfa === true,
    phishingResistant: input.signIn.phishingResistant === true,
    acr: input.signIn.acr ?? '',
    amr: [...new Set(input.signIn.amr ?? [])],
    ip: ip(approver.ip),
    network: approver.network,
    userAgent: approver.userAgent,
    requester: { ip: ip(requester.ip), network: requester.network, userAgent: requester.userAgent },
    sameNetwork: env.networks.same(approver.ip, requester.ip),
    requestAgeSeconds: age(input.now, input.requestedAt, 'requestedAt'),
  });
}

/**
 * Every token request (each issuance and each refresh) builds one, so the context is one object literal: spreading
 * `common()` and `origin()` into it cost more than everything else the builder does (V8 copies spread properties
 * one by one on a slow path).
 */
function token(input: IssueInput | RefreshInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  const principal = b.user(input.user);
  const { signIn } = input;
  const requester = b.originFacts('requester', input.requester);
  return b.finish(
    principal,
    b.withCommon({
      environment: input.environment ?? '',
      authMethod: signIn.method,
      authAgeSeconds: age(input.now, signIn.at, 'signIn.at'),
      mfa: signIn.mfa === true,
      phishingResistant: signIn.phishingResistant === true,
      acr: signIn.acr ?? '',
      amr: [...new Set(signIn.amr ?? [])],
      grantAgeSeconds: age(input.now, input.grantCreatedAt, 'grantCreatedAt'),
      ip: ip(requester.ip),
      network: requester.network,
      userAgent: requester.userAgent,
    }),
  );
}

function api(input: ApiRequestInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  const principal = input.subject.kind === 'workload' ? b.workload(input.subject) : b.user(input.subject);
  return b.finish(principal, {
    ...b.common(),
    method: input.method.toUpperCase(),
    path: input.path,
    ...b.origin('origin', input.origin),
    tokenAgeSeconds: age(input.now, input.tokenIssuedAt, 'tokenIssuedAt'),
  });
}

function workloadCreation(input: WorkloadCreationInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  if (!Number.isInteger(input.lifetime) || input.lifetime < 0) throw new PolicyInputError('lifetime', 'must be whole seconds');
  return b.finish(b.user(input.user), {
    ...b.common(),
    lifetimeSeconds: input.lifetime,
    authentication: input.authentication,
    issuer: input.issuer ?? '',
    ...b.origin('requester', input.requester),
  });
}

function workloadExchange(input: WorkloadExchangeInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  return b.finish(b.workload(input.workload), {
    ...b.common(),
    authentication: input.authentication,
    issuer: input.issuer ?? '',
    workloadAgeSeconds: age(input.now, input.workloadCreatedAt, 'workloadCreatedAt'),
    ...b.origin('requester', input.requester),
  });
}

function delegation(input: DelegationInput, env: RequestEnvironment): CedarRequest {
  const b = new Builder(input, env);
  b.client();
  return b.finish(b.user(input.user), {
    ...b.common(),
    actor: text('actor', input.actor),
    ...b.origin('requester', input.requester),
  });
}

/** Collects the entities of one request so each is listed once (Cedar refuses duplicates). */
class Builder {
  private readonly entities: EntityJson[] = [];
  private readonly resourceUid: CedarUid;
  private readonly deviceUid: CedarUid;
  private readonly clientUid: CedarUid;

  constructor(
    private readonly input: PolicyInput,
    private readonly env: RequestEnvironment,
  ) {
    if (!Number.isFinite(input.now)) throw new PolicyInputError('now', 'must be seconds since the epoch');
    this.resourceUid = this.resource(input.resource);
    this.deviceUid = this.device(input.device);
    this.clientUid = uid('Client', text('client.id', input.client.id));
  }

  entity(u: CedarUid, attrs: Record<string, CedarValueJson>, parents: CedarUid[] = []): CedarUid {
    this.entities.push({ uid: u, attrs, parents });
    return u;
  }

  client(): CedarUid {
    return this.entity(this.clientUid, {});
  }

  user(user: UserFacts): CedarUid {
    const groups = (user.groups ?? []).map((g) => uid('Group', g));
    return this.entity(uid('User', text('user.id', user.id)), {}, groups);
  }

  /** A workload principal, its owner an attribute (the owner's entity is listed too, without groups: who owns it, not what they may do). */
  workload(workload: WorkloadFacts): CedarUid {
    const owner = uid('User', text('workload.owner', workload.owner));
    if (!this.entities.some((e) => JSON.stringify(e.uid) === JSON.stringify(owner))) this.entity(owner, {});
    return this.entity(uid('Workload', text('workload.id', workload.id)), { owner: ref(owner) });
  }

  /** The context attributes every action has. */
  common(): Record<string, CedarValueJson> {
    const { hour, weekday } = this.env.localTime(this.input.now);
    return {
      client: ref(this.clientUid),
      device: ref(this.deviceUid),
      scopes: [...new Set(this.input.scopes)],
      hour,
      weekday,
    };
  }

  /** `context` with the attributes of {@link common} added to it, without copying it. */
  withCommon(context: Record<string, CedarValueJson>): Record<string, CedarValueJson> {
    const { hour, weekday } = this.env.localTime(this.input.now);
    context['client'] = ref(this.clientUid);
    context['device'] = ref(this.deviceUid);
    context['scopes'] = [...new Set(this.input.scopes)];
    context['hour'] = hour;
    context['weekday'] = weekday;
    return context;
  }

  originFacts(field: string, origin: { ip: string; userAgent?: string }): { ip: string; network: string; userAgent: string } {
    const address = normalizeIp(`${field}.ip`, origin.ip);
    return { ip: address, network: this.env.networks.classify(address), userAgent: origin.userAgent ?? '' };
  }

  origin(field: string, origin: { ip: string; userAgent?: string }): Record<string, CedarValueJson> {
    const facts = this.originFacts(field, origin);
    return { ip: ip(facts.ip), network: facts.network, userAgent: facts.userAgent };
  }

  finish(principal: CedarUid, context: Record<string, CedarValueJson>): CedarRequest {
    const action = { type: 'Tether::Action', id: STEP_ACTIONS[this.input.step] };
    const reads = this.env.reads;
    if (reads === undefined || reads === 'all') return { principal, action, resource: this.resourceUid, context, entities: this.entities };
    const kept: Record<string, CedarValueJson> = {};
    for (const key of reads) if (key in context) kept[key] = context[key] as CedarValueJson;
    // The device and client entities are reached only through context.device / context.client (or as principal).
    const entities = this.entities.filter(
      (e) =>
        (e.uid !== this.deviceUid || reads.has('device')) &&
        (e.uid !== this.clientUid || reads.has('client') || principal === this.clientUid),
    );
    return { principal, action, resource: this.resourceUid, context: kept, entities };
  }

  private resource(resource: ResourceFacts): CedarUid {
    if (!RESOURCE_TIERS.includes(resource.tier)) {
      throw new PolicyInputError('resource.tier', `"${String(resource.tier)}" is not one of ${RESOURCE_TIERS.join(', ')}`);
    }
    return this.entity(uid('Resource', text('resource.uri', resource.uri)), { tier: resource.tier });
  }

  private device(device: DeviceFacts): CedarUid {
    if (!DEVICE_CLASSES.includes(device.class)) {
      throw new PolicyInputError('device.class', `"${String(device.class)}" is not one of ${DEVICE_CLASSES.join(', ')}`);
    }
    // Every keyless device is the same "unbound" entity: there is nothing to tell them apart by.
    return this.entity(uid('Device', device.jkt ?? 'unbound'), {
      class: device.class,
      enrolled: device.enrolled,
      bound: device.jkt !== null,
    });
  }
}

function text(field: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new PolicyInputError(field, 'must be a non-empty string');
  return value;
}

/** Whole seconds from `then` to `now`; a time in the future (clock skew) counts as zero, never negative. */
function age(now: number, then: number, field: string): number {
  if (!Number.isFinite(then)) throw new PolicyInputError(field, 'must be seconds since the epoch');
  return Math.max(0, Math.floor(now - then));
}
