import { z } from 'zod';
import type { RouteScope } from '../contracts/access-scope.js';
import type { ErrorShape, Route, RouteSet } from './router.js';

/** find-my-way paths as OpenAPI templates: `:clientId` → `{clientId}`, the `/v2/*` wildcard → `{path}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\*$/, '{path}');
}

const securityOf: Record<RouteScope, { description: string; security: Record<string, string[]>[] }> = {
  public: { description: 'anyone', security: [] },
  credential: { description: 'a client or admin credential', security: [{ basic: [] }] },
  'client-own': { description: 'the admin, or the client the request is about', security: [{ basic: [] }] },
  admin: { description: 'the admin credential', security: [{ basic: [] }] },
  'telemetry-write': { description: 'admin, client or source credential; events bound to its subjects', security: [{ basic: [] }] },
  registry: { description: 'a bearer token from /v1/token (the Docker token flow)', security: [{ bearer: [] }] },
};

const errorDescriptions: Record<ErrorShape, string> = {
  prescient: 'JSON; errors as {error, message, details?, requestId}',
  oci: 'as the OCI distribution spec says; errors as {errors:[{code,message,detail}]}',
  otlp: 'as OTLP/HTTP says, in the request\'s encoding (protobuf or JSON); errors as a google.rpc.Status {code, message, details:[google.rpc.ErrorInfo]}',
};

/** The error body of each shape (what http-error.ts writes), as documented under every status that answers it. */
const errorBodies: Record<ErrorShape, Record<string, Record<string, unknown>>> = {
  prescient: {
    'application/json': {
      type: 'object',
      required: ['error', 'message', 'requestId'],
      properties: { error: { type: 'string', description: 'the error code, TOO_MANY_REQUESTS for a 429' }, message: { type: 'string' }, details: { type: 'object', description: 'what names the problem: field, rule, limit, retryAfterSeconds' }, requestId: { type: 'string' } },
    },
  },
  oci: {
    'application/json': {
      type: 'object',
      required: ['errors'],
      properties: { errors: { type: 'array', items: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, detail: {} } } } },
    },
  },
  otlp: {
    'application/json': {
      type: 'object',
      description: 'google.rpc.Status, proto3 JSON mapping',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'integer', description: 'gRPC status code (8, RESOURCE_EXHAUSTED, for a 429)' },
        message: { type: 'string' },
        details: { type: 'array', description: 'a google.rpc.ErrorInfo; on a 429 also a google.rpc.RetryInfo {retryDelay: "1s"}', items: { type: 'object', required: ['@type'], properties: { '@type': { type: 'string' } } } },
      },
    },
    'application/x-protobuf': { type: 'string', contentMediaType: 'application/x-protobuf', description: 'google.rpc.Status, protobuf-encoded (the answer to a protobuf request)' },
  },
};

/** 429: a bound on what the server holds at once refused the request before its body was read; the sender retries after Retry-After. */
function throttledResponse(shape: ErrorShape): Record<string, unknown> {
  return {
    description: 'Too Many Requests: the server holds as much of this kind at once as it takes (in total or for this credential); nothing was read or stored. Send again after Retry-After.',
    headers: { 'Retry-After': { description: 'seconds to wait before sending the request again', required: true, schema: { type: 'integer', minimum: 1 } } },
    content: Object.fromEntries(Object.entries(errorBodies[shape]).map(([type, schema]) => [type, { schema }])),
  };
}

const jsonSchema = (schema: z.ZodType): Record<string, unknown> => {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

function operation(route: Route, method: string): Record<string, unknown> {
  const params = [...route.path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (route.path.endsWith('*')) params.push({ name: 'path', in: 'path', required: true, schema: { type: 'string' } });
  const query = route.schemas?.query ? jsonSchema(route.schemas.query) : undefined;
  const queryProps = (query?.['properties'] ?? {}) as Record<string, unknown>;
  const required = new Set((query?.['required'] as string[] | undefined) ?? []);
  const parameters = [...params, ...Object.entries(queryProps).map(([name, schema]) => ({ name, in: 'query', required: required.has(name), schema }))];
  const access = securityOf[route.scope];
  return {
    summary: route.summary,
    description: `Who may call it: ${access.description}.`,
    'x-prescient-scope': route.scope,
    security: access.security,
    ...(parameters.length ? { parameters } : {}),
    ...(route.schemas?.body && method !== 'get' && method !== 'head'
      ? {
          requestBody: {
            required: true,
            content: {
              [route.schemas.bodyMediaType ?? 'application/json']: { schema: jsonSchema(route.schemas.body) },
              ...Object.fromEntries(Object.entries(route.schemas.binaryBodies ?? {}).map(([type, description]) => [type, { schema: { type: 'string', contentMediaType: type, description } }])),
            },
          },
        }
      : {}),
    responses: {
      ...(route.throttles ? { '429': throttledResponse(route.errorShape ?? 'prescient') } : {}),
      default: { description: errorDescriptions[route.errorShape ?? 'prescient'] },
    },
  };
}

/**
 * The OpenAPI 3.1 document of exactly the routes a server answers, generated from the route
 * table and the zod schemas the handlers validate with, so it cannot drift from them.
 */
export function openApiDocument(routes: readonly RouteSet[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes.flat()) {
    const methods = typeof route.method === 'string' ? [route.method] : [...route.method];
    const item = (paths[openApiPath(route.path)] ??= {});
    for (const m of methods) item[m.toLowerCase()] = operation(route, m.toLowerCase());
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Prescient', version: info.version, description: 'Personalised VM images prepared before their users ask: requests, the token flow, the OCI distribution API, telemetry, usage vectors.' },
    components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
