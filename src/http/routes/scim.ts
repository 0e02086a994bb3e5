import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ScimError, badRequest, notFound } from '../../scim/errors.js';
import { etagMatches, etagOf } from '../../scim/etag.js';
import type { ScimAccess } from '../../scim/bearer-access.js';
import { resourceTypes, schemaDefinitions, serviceProviderConfig } from '../../scim/discovery.js';
import type { JsonObject } from '../../scim/json.js';
import { listResponse, projectAttributes } from '../../scim/list-response.js';
import { GROUP_SCHEMA, SCIM_MEDIA_TYPE, USER_SCHEMA } from '../../scim/schemas.js';
import type { ScimGroups } from '../../scim/scim-groups.js';
import type { ListQuery, ScimResult, ScimUsers } from '../../scim/scim-users.js';

export interface ScimDeps {
  users: ScimUsers;
  groups: ScimGroups;
  access: ScimAccess;
  /** `{issuer}/scim/v2`. */
  baseUrl: string;
}

/** A SCIM body is larger than an OAuth form (a group with its members), still bounded. */
const SCIM_BODY_LIMIT = 256 * 1024;
const PREFIX = '/scim/v2';

/**
 * SCIM 2.0 over HTTP (RFC 7644): the Users and Groups endpoints and the discovery endpoints, behind a bearer
 * token. Every response, errors included, is `application/scim+json`; every failure is a SCIM error (RFC 7644
 * §3.12), never the OAuth JSON of the rest of the server and never a stack trace.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644
 */
export function registerScimRoutes(app: FastifyInstance, deps: ScimDeps): void {
  app.register(
    async (scim) => {
      const actors = new WeakMap<FastifyRequest, string>();
      scim.removeAllContentTypeParsers();
      scim.addContentTypeParser([SCIM_MEDIA_TYPE, 'application/json'], { parseAs: 'string', bodyLimit: SCIM_BODY_LIMIT }, (_request, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(badRequest('invalidSyntax', 'The body is not valid JSON.'), undefined);
        }
      });
      scim.addContentTypeParser('*', (_request, _payload, done) => {
        done(badRequest('invalidSyntax', `The body must be ${SCIM_MEDIA_TYPE}.`), undefined);
      });
      scim.setErrorHandler((error: FastifyError, request, reply) => {
        const scimError = toScimError(error);
        if (scimError.status >= 500) request.log.error({ err: { type: error.name, code: error.code } }, 'SCIM request failed');
        return send(reply, scimError.status, scimError.toJSON());
      });
      scim.setNotFoundHandler((_request, reply) => send(reply, 404, notFound('Endpoint').toJSON()));
      scim.addHook('onRequest', async (request, reply) => {
        const actor = deps.access.authenticate(request.headers.authorization);
        if (!actor) {
          reply.header('www-authenticate', 'Bearer realm="tether-scim"');
          throw new ScimError(401, undefined, 'A valid SCIM bearer token is required.');
        }
        actors.set(request, actor);
      });
      const actorOf = (request: FastifyRequest) => actors.get(request) ?? 'scim';

      scim.get('/ServiceProviderConfig', (_request, reply) => send(reply, 200, serviceProviderConfig(deps.baseUrl)));
      scim.get('/ResourceTypes', (_request, reply) => {
        const all = resourceTypes(deps.baseUrl);
        return send(reply, 200, listResponse(all.length, 1, all));
      });
      scim.get('/ResourceTypes/:id', (request, reply) => {
        const found = resourceTypes(deps.baseUrl).find((t) => t['id'] === idParam(request));
        if (!found) throw notFound('ResourceType');
        return send(reply, 200, found);
      });
      scim.get('/Schemas', (_request, reply) => {
        const all = schemaDefinitions(deps.baseUrl);
        return send(reply, 200, listResponse(all.length, 1, all));
      });
      scim.get('/Schemas/:id', (request, reply) => {
        const found = schemaDefinitions(deps.baseUrl).find((s) => s['id'] === idParam(request));
        if (!found) throw notFound('Schema');
        return send(reply, 200, found);
      });

      for (const [path, service, schema] of [
        ['/Users', deps.users, USER_SCHEMA],
        ['/Groups', deps.groups, GROUP_SCHEMA],
      ] as const) {
        scim.get(path, async (request, reply) => {
          const query = queryOf(request);
          const list = await service.list(query);
          const resources = Array.isArray(list['Resources']) ? (list['Resources'] as JsonObject[]) : [];
          return send(reply, 200, { ...list, Resources: resources.map((r) => projectAttributes(r, query, schema)) });
        });
        scim.post(path, async (request, reply) => {
          const created = await service.create(request.body, actorOf(request));
          reply.header('location', `${deps.baseUrl}${path}/${String(created.resource['id'])}`);
          return sendResource(reply, 201, created);
        });
        scim.get(`${path}/:id`, async (request, reply) => {
          const found = await service.get(idParam(request));
          const ifNoneMatch = header(request, 'if-none-match');
          // RFC 7644 §3.14: an unchanged resource is not sent again.
          if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, found.version)) {
            return reply.code(304).header('etag', etagOf(found.version)).send();
          }
          return sendResource(reply, 200, { ...found, resource: projectAttributes(found.resource, queryOf(request), schema) });
        });
        scim.put(`${path}/:id`, async (request, reply) => {
          const replaced = await service.replace(idParam(request), request.body, header(request, 'if-match'), actorOf(request));
          return sendResource(reply, 200, replaced);
        });
        scim.patch(`${path}/:id`, async (request, reply) => {
          const patched = await service.patch(idParam(request), request.body, header(request, 'if-match'), actorOf(request));
          return sendResource(reply, 200, patched);
        });
        scim.delete(`${path}/:id`, async (request, reply) => {
          await service.delete(idParam(request), header(request, 'if-match'), actorOf(request));
          return reply.code(204).send();
        });
      }
    },
    { prefix: PREFIX },
  );
}

function send(reply: FastifyReply, status: number, body: JsonObject): FastifyReply {
  // People's names and addresses: kept out of shared caches.
  return reply.code(status).header('cache-control', 'no-store').header('content-type', `${SCIM_MEDIA_TYPE}; charset=utf-8`).send(JSON.stringify(body));
}

function sendResource(reply: FastifyReply, status: number, result: ScimResult): FastifyReply {
  return send(reply.header('etag', etagOf(result.version)), status, result.resource);
}

function idParam(request: FastifyRequest): string {
  const params = request.params as Record<string, unknown>;
  const id = params['id'];
  return typeof id === 'string' ? id : '';
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The SCIM query parameters, names matched case-insensitively; a repeated parameter is refused. */
function queryOf(request: FastifyRequest): ListQuery & { attributes?: string; excludedAttributes?: string } {
  const raw = (request.query ?? {}) as Record<string, unknown>;
  const pick = (name: string): string | undefined => {
    const entry = Object.entries(raw).find(([k]) => k.toLowerCase() === name.toLowerCase());
    if (!entry) return undefined;
    if (typeof entry[1] !== 'string') throw badRequest('invalidValue', `${name} must be given once.`);
    return entry[1];
  };
  const query: ListQuery & { attributes?: string; excludedAttributes?: string } = {};
  for (const name of ['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes'] as const) {
    const value = pick(name);
    if (value !== undefined) query[name] = value;
  }
  return query;
}

/** The framework's own refusals (body too large, malformed) as SCIM errors; anything unexpected as a bare 500. */
function toScimError(error: FastifyError): ScimError {
  if (error instanceof ScimError) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ScimError(413, undefined, 'The request body is too large.');
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return badRequest('invalidSyntax', 'The request is malformed.');
  return new ScimError(500, undefined, 'The request could not be completed.');
}
