import type { Logger } from '../shared/logger.js';
import type { AuditEventInput, AuditLog } from '../audit/event.js';
import type { Resource } from '../clients/client.js';
import type { OAuthError } from '../oauth/errors.js';
import { deviceFacts, type DeviceRegistry } from '../policy/device-trust.js';
import type { PolicyEngine } from '../policy/engine.js';
import { PolicyInputError } from '../policy/errors.js';
import { policyRefusal } from '../policy/refusal.js';
import type { DeviceFacts, PolicyDecision, PolicyDeny, PolicyInput, PolicyStep, ResourceFacts, UserFacts } from '../policy/types.js';
import type { UserDirectory } from '../users/user.js';

/** A step the server decides: device authorization, approval, issuance, refresh (the API step is the guard's). */
export type FlowStep = Exclude<PolicyStep, 'api'>;

/** What a refusal's audit event says besides the decision: who, which request or grant, from where. */
export type RefusalContext = Omit<AuditEventInput, 'type'>;

export interface PolicyGateDeps {
  engine: PolicyEngine;
  /** Best a cached registry: device authorization asks it on every request that carries a key. */
  devices: DeviceRegistry;
  audit: AuditLog;
  users: UserDirectory;
  logger?: Pick<Logger, 'info' | 'error'>;
}

/**
 * Where the server asks policy (docs/policy.md), for every step: the device endpoint and the approval (device-flow/)
 * and the token grants (grant-types/). It gathers the facts policy reads (the device's trust, the person), takes
 * the decision from `policy/` (which alone knows Cedar), and records a refusal as a `policy.denied` audit event
 * turned into the step's OAuth error. One object, in a folder of its own, so that every step refuses the same way.
 */
export class PolicyGate {
  constructor(private readonly deps: PolicyGateDeps) {}

  /** The device as policy sees it: its key's approved class, lowered by what it declared about itself. */
  device(jkt: string | null, environment: string | null): Promise<DeviceFacts> {
    return deviceFacts(this.deps.devices, jkt, environment ?? undefined);
  }

  /** The person a grant is for, with their groups; undefined when the directory no longer knows them. */
  async user(id: string): Promise<UserFacts | undefined> {
    const user = await this.deps.users.find(id);
    return user && { id: user.id, groups: user.groups };
  }

  /**
   * Decides one step. An input policy cannot take (an address behind a trusted proxy that is not one) is refused
   * like a policy that cannot be evaluated: failing closed, and an answer rather than a server error.
   */
  decide(input: PolicyInput): PolicyDecision {
    let decision: PolicyDecision;
    try {
      decision = this.deps.engine.decide(input);
    } catch (error) {
      if (!(error instanceof PolicyInputError)) throw error;
      decision = { decision: 'deny', reasons: [], cause: 'error', message: 'This request could not be checked against policy.', errors: [error.message] };
    }
    if (decision.decision === 'deny' && decision.errors) {
      this.deps.logger?.error({ step: input.step, policies: decision.reasons, errors: decision.errors }, 'policy could not be evaluated; refused');
    }
    return decision;
  }

  /** The `policy.denied` event of a refusal. */
  refusalEvent(step: FlowStep, decision: PolicyDeny, context: RefusalContext): AuditEventInput {
    return {
      ...context,
      type: 'policy.denied',
      data: { step, cause: decision.cause, policies: decision.reasons, message: decision.message, ...context.data },
    };
  }

  /** Records the refusal and returns the OAuth error that ends the step (the caller throws it). */
  async refuse(step: FlowStep, decision: PolicyDeny, context: RefusalContext): Promise<OAuthError> {
    await this.deps.audit.record([this.refusalEvent(step, decision, context)]);
    this.deps.logger?.info({ step, cause: decision.cause, policies: decision.reasons, client: context.clientId }, 'refused by policy');
    return policyRefusal(step, { ...decision, message: oauthText(decision.message) });
  }
}

/** A resource as policy names it. */
export function resourceFacts(resource: Resource): ResourceFacts {
  return { uri: resource.uri, tier: resource.tier };
}

/**
 * A policy's reason as an `error_description`, which RFC 6749 §5.2 limits to printable ASCII without `"` and `\`
 * (a reason is free text in a policy file; the pages show it as written).
 */
export function oauthText(message: string): string {
  return message
    .replace(/["\u201C\u201D]/g, "'")
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...')
    .replace(/\\/g, '/')
    .replace(/[^\x20-\x7E]/g, '?');
}
