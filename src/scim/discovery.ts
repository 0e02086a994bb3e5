import type { JsonObject } from './json.js';
import { MAX_PAGE } from './list-response.js';
import { GROUP_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA } from './schemas.js';

/**
 * What this SCIM service supports (RFC 7643 §5): PATCH, equality filters, ETags, bearer tokens; no bulk, sorting
 * or password changes. Okta and Entra ID read it when a connection is set up.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-5
 */
export function serviceProviderConfig(baseUrl: string): JsonObject {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: 'https://github.com/tether/tether/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A long random token whose SHA-256 hash is in scim.bearer_token_hashes (RFC 6750 header).',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

/** @see https://www.rfc-editor.org/rfc/rfc7643#section-6 */
export function resourceTypes(baseUrl: string): JsonObject[] {
  const type = (id: string, endpoint: string, schema: string, description: string): JsonObject => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    id,
    name: id,
    endpoint,
    description,
    schema,
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${id}` },
  });
  return [
    type('User', '/Users', USER_SCHEMA, 'People who can approve device logins.'),
    type('Group', '/Groups', GROUP_SCHEMA, 'Groups policy reads as principal groups.'),
  ];
}

interface AttributeSpec {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime';
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  uniqueness?: 'none' | 'server' | 'global';
  description: string;
  subAttributes?: AttributeSpec[];
  referenceTypes?: string[];
}

function attributeJson(a: AttributeSpec): JsonObject {
  return {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued ?? false,
    description: a.description,
    required: a.required ?? false,
    caseExact: a.caseExact ?? false,
    mutability: a.mutability ?? 'readWrite',
    returned: 'default',
    uniqueness: a.uniqueness ?? 'none',
    ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
    ...(a.subAttributes ? { subAttributes: a.subAttributes.map(attributeJson) } : {}),
  };
}

const USER_ATTRIBUTES: AttributeSpec[] = [
  { name: 'userName', type: 'string', required: true, uniqueness: 'server', description: 'Unique name the person signs in with; compared lowercased.' },
  { name: 'displayName', type: 'string', description: 'The name shown on the verification page.' },
  { name: 'active', type: 'boolean', description: 'false offboards the person: every grant revoked at once.' },
  { name: 'externalId', type: 'string', caseExact: true, description: "The provisioning client's identifier." },
  {
    name: 'emails',
    type: 'complex',
    multiValued: true,
    description: 'Email addresses.',
    subAttributes: [
      { name: 'value', type: 'string', description: 'The address.' },
      { name: 'type', type: 'string', description: 'work, home or other.' },
      { name: 'primary', type: 'boolean', description: 'The preferred address.' },
    ],
  },
  {
    name: 'groups',
    type: 'complex',
    multiValued: true,
    mutability: 'readOnly',
    description: 'Groups the person is in; changed through the Group resource.',
    subAttributes: [
      { name: 'value', type: 'string', mutability: 'readOnly', description: 'The group id.' },
      { name: '$ref', type: 'reference', referenceTypes: ['Group'], mutability: 'readOnly', description: 'The group URI.' },
      { name: 'display', type: 'string', mutability: 'readOnly', description: 'The group name.' },
    ],
  },
];

const GROUP_ATTRIBUTES: AttributeSpec[] = [
  { name: 'displayName', type: 'string', required: true, uniqueness: 'server', description: 'The group name policy reads.' },
  { name: 'externalId', type: 'string', caseExact: true, description: "The provisioning client's identifier." },
  {
    name: 'members',
    type: 'complex',
    multiValued: true,
    description: 'Users in the group (no nested groups).',
    subAttributes: [
      { name: 'value', type: 'string', mutability: 'immutable', description: 'The user id.' },
      { name: '$ref', type: 'reference', referenceTypes: ['User'], mutability: 'immutable', description: 'The user URI.' },
      { name: 'display', type: 'string', mutability: 'readOnly', description: 'The user name.' },
    ],
  },
];

/** @see https://www.rfc-editor.org/rfc/rfc7643#section-7 */
export function schemaDefinitions(baseUrl: string): JsonObject[] {
  const definition = (id: string, name: string, description: string, attributes: AttributeSpec[]): JsonObject => ({
    schemas: [SCHEMA_SCHEMA],
    id,
    name,
    description,
    attributes: attributes.map(attributeJson),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${id}` },
  });
  return [
    definition(USER_SCHEMA, 'User', 'User Account', USER_ATTRIBUTES),
    definition(GROUP_SCHEMA, 'Group', 'Group', GROUP_ATTRIBUTES),
  ];
}
