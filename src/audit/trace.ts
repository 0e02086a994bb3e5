import type { AuditEvent } from './event.js';

/** The provenance of one grant: the request, the decision, and every token descended from it. */
export interface Trace {
  request?: AuditEvent;
  entries: AuditEvent[];
  decision?: AuditEvent;
  tokens: AuditEvent[];
  revocations: AuditEvent[];
  /** Workloads created under the grant, their lifecycle, their tokens, and tokens delegated from it. */
  workloads: AuditEvent[];
  other: AuditEvent[];
}

/** Sorts a grant's (and its device request's) events into the story a security analyst reads. */
export function buildTrace(events: readonly AuditEvent[]): Trace {
  const trace: Trace = { entries: [], tokens: [], revocations: [], workloads: [], other: [] };
  for (const e of events) {
    if (e.type === 'device_code.requested') trace.request = e;
    else if (e.type === 'user_code.entered') trace.entries.push(e);
    else if (e.type === 'device.approved' || e.type === 'device.denied') trace.decision = e;
    else if (e.type === 'token.issued' || e.type === 'token.refreshed') trace.tokens.push(e);
    else if (e.type === 'grant.revoked' || e.type === 'refresh_token.reuse_detected') trace.revocations.push(e);
    else if (e.type.startsWith('workload.') || e.type === 'token.delegated') trace.workloads.push(e);
    else trace.other.push(e);
  }
  return trace;
}

/** One line of a workload's story: created under this grant, changed, a token issued or refused; or a delegation. */
function workloadLine(e: AuditEvent): string {
  const d = e.data;
  const name = `${str(d['name'])} (${str(d['workload'])})`;
  switch (e.type) {
    case 'workload.created':
      return `Workload created ${time(e.at)}  ${name} by ${str(e.userId)} on device ${str(e.jkt)} [${str(d['device_class'])}]: ${str(d['purpose'])}; ${str(d['scopes'])} on ${str(d['resources'])}, ${str(d['authentication'])}, ends ${time(Number(d['expires_at']))}`;
    case 'workload.token_issued':
      return `  Workload token ${time(e.at)}  jti ${str(e.jti)}  ${name} via ${str(d['authentication'])} ${str(d['issuer'])} sub ${str(d['subject'])}  ${str(d['ttl'])}s  scopes ${str(d['scopes'])}  from ${str(d['ip'])}`;
    case 'workload.exchange_refused':
      return `  Workload refused ${time(e.at)}  ${name}: ${str(d['reason'])} (sub ${str(d['subject'])}, from ${str(d['ip'])})`;
    case 'token.delegated':
      return `  Token delegated ${time(e.at)}  jti ${str(e.jti)}  to ${str(d['actor'])}  ${str(d['ttl'])}s  scopes ${str(d['scopes'])}`;
    default:
      return `Workload ${str(d['to'])}${' '.repeat(Math.max(1, 8 - str(d['to']).length))}${time(e.at)}  ${name} by ${str(d['actor'])}${d['reason'] ? `: ${str(d['reason'])}` : ''}`;
  }
}

const time = (at: number) => new Date(at * 1000).toISOString().replace('.000Z', 'Z');
const str = (v: unknown) => (v === undefined || v === null ? '-' : Array.isArray(v) ? v.join(' ') : String(v));

/** Plain-text rendering: who approved, from where, on which device's request, and what became of each token. */
export function renderTrace(trace: Trace, now: number): string {
  const lines: string[] = [];
  const r = trace.request;
  if (r) {
    lines.push(`Device request   ${time(r.at)}  client ${str(r.clientId)}  from ${str(r.data['ip'])}  (${str(r.data['user_agent'])})`);
    lines.push(`                 asked for ${str(r.data['scopes'])} on ${str(r.data['resource'])}; device key ${str(r.jkt)}`);
  }
  for (const e of trace.entries) lines.push(`Code entered     ${time(e.at)}  from ${str(e.data['ip'])}  (${str(e.data['user_agent'])})`);
  const d = trace.decision;
  if (d) {
    const verb = d.type === 'device.approved' ? 'Approved' : 'Denied';
    const network = d.data['same_network'] === false ? '  [DIFFERENT NETWORK from the device]' : '';
    lines.push(`${verb.padEnd(17)}${time(d.at)}  by ${str(d.userId)}  from ${str(d.data['approver_ip'])}  (${str(d.data['approver_user_agent'])})${network}`);
    if (d.grantId) {
      lines.push(`Grant            ${d.grantId}  ends ${time(Number(d.data['grant_expires_at']))}, idle limit ${str(d.data['grant_idle_ttl'])}s`);
    }
  }
  const revokedAt = trace.revocations.find((e) => e.type === 'grant.revoked')?.at;
  for (const t of trace.tokens) {
    const exp = Number(t.data['expires_at']);
    const fate =
      revokedAt !== undefined && revokedAt >= t.at ? `revoked ${time(revokedAt)}` : exp <= now ? `expired ${time(exp)}` : `active until ${time(exp)}`;
    const label = t.type === 'token.issued' ? 'Token issued' : 'Token refreshed';
    lines.push(`  ${label.padEnd(17)}${time(t.at)}  jti ${str(t.jti)}  ${str(t.data['token_type'])} ${str(t.data['ttl'])}s  scopes ${str(t.data['scopes'])}  from ${str(t.data['ip'])}  -> ${fate}`);
  }
  for (const e of trace.revocations) {
    if (e.type === 'refresh_token.reuse_detected') {
      lines.push(`Reuse detected   ${time(e.at)}  a rotated refresh token came back from ${str(e.data['ip'])}`);
    } else {
      lines.push(`Revoked          ${time(e.at)}  by ${str(e.data['actor'])} via ${str(e.data['via'])}: ${str(e.data['reason'])}`);
    }
  }
  for (const e of trace.workloads) lines.push(workloadLine(e));
  for (const e of trace.other) lines.push(`${e.type.padEnd(17)}${time(e.at)}  ${str(e.clientId)}`);
  return lines.length > 0 ? lines.join('\n') : 'Nothing recorded.';
}
