import type { AuditEventInput } from '../audit/event.js';
import type { WriteFailure } from '../users/directory.js';
import { badRequest, notFound, preconditionFailed, ScimError, uniqueness } from './errors.js';

export type ScimOperation = 'create' | 'replace' | 'patch' | 'delete';

/** The `directory.changed` audit event of one SCIM write, with the SCIM client as actor. */
export function directoryChanged(
  actor: string,
  resource: 'User' | 'Group',
  operation: ScimOperation,
  subject: { id: string; version: number },
  at: number,
  data: Record<string, unknown> = {},
): AuditEventInput {
  return {
    type: 'directory.changed',
    at,
    ...(resource === 'User' ? { userId: subject.id } : {}),
    data: { actor, resource, operation, id: subject.id, version: subject.version, ...data },
  };
}

/** A store's refusal as the SCIM error the client gets. */
export function writeFailure(reason: WriteFailure, resource: 'User' | 'Group'): ScimError {
  switch (reason) {
    case 'missing':
      return notFound(resource);
    case 'version_mismatch':
      return preconditionFailed();
    case 'conflict':
      return uniqueness(resource === 'User' ? 'A user with that userName exists.' : 'A group with that displayName exists.');
    case 'unknown_member':
      return badRequest('invalidValue', 'A member is not a known user.');
  }
}
