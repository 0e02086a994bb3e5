import { hashSecret } from '../../src/shared/crypto.js';

/** The bearer token the test SCIM client holds; the server is configured with its hash only. */
export const SCIM_TOKEN = 'scim-test-token-0123456789abcdefghijklmnopqrstuvwxyz';
export const SCIM_TOKEN_HASH = hashSecret(SCIM_TOKEN);

export const USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_URN = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export interface ScimReply {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when there is none (204, 304). */
  body: Record<string, unknown> | undefined;
  text: string;
}

/**
 * A SCIM client written from RFC 7644 with plain fetch and the RFC's JSON, as Okta or Entra ID speak it; it
 * knows nothing of the server's code.
 */
export class ScimClient {
  constructor(
    private readonly base: string,
    /** null: send no Authorization header. */
    private readonly token: string | null = SCIM_TOKEN,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ScimReply> {
    const sent: Record<string, string> = { accept: 'application/scim+json', ...headers };
    if (this.token !== null) sent['authorization'] = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      sent['content-type'] ??= 'application/scim+json';
    }
    const response = await fetch(`${this.base}/scim/v2${path}`, { method, headers: sent, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, text };
  }

  createUser(userName: string, extra: Record<string, unknown> = {}) {
    return this.request('POST', '/Users', { schemas: [USER_URN], userName, active: true, ...extra });
  }

  patch(path: string, operations: unknown[], headers: Record<string, string> = {}) {
    return this.request('PATCH', path, { schemas: [PATCH_URN], Operations: operations }, headers);
  }

  /** The one user with this userName, found as a provisioning client does before it creates or updates. */
  async findUser(userName: string): Promise<Record<string, unknown> | undefined> {
    const reply = await this.request('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    const resources = (reply.body?.['Resources'] ?? []) as Record<string, unknown>[];
    return resources[0];
  }
}
