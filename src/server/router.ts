import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { OciAction, Principal, RouteScope } from '../contracts/access-scope.js';

/**
 * The route contract of the HTTP edge. Fastify does the routing, hooks and error mapping
 * (app.ts); handlers get the raw Node request and response because OCI blobs of many GiB are
 * streamed both ways and must never be buffered, so nothing parses a body for them.
 */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  signal: AbortSignal;
  /** The request id, also sent back as `x-request-id`. */
  requestId: string;
  /**
   * Who sent it, as the scope hook authenticated it: undefined on public routes, on scopes the
   * server was told to leave open (`serve --no-auth`) and in apps built without auth (tests).
   */
  principal: Principal | undefined;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/**
 * How errors under a route are shaped: Prescient's `{error, message}`, the OCI spec's
 * `{errors:[…]}`, or OTLP/HTTP's google.rpc.Status in the request's encoding (protobuf or JSON).
 */
export const errorShapes = ['prescient', 'oci', 'otlp'] as const;
export type ErrorShape = (typeof errorShapes)[number];

export interface Route {
  method: string | readonly string[];
  /**
   * A find-my-way path (`/v1/clients/:clientId/credentials`, `/v2/*`). Named parameters are
   * handed to the handler percent-decoded; a `*` wildcard as the raw path sent, so `..` and
   * `%2F` reach the handler as written instead of being resolved.
   */
  path: string;
  scope: RouteScope;
  /** For `client-own`: the client the request is about (a path or query parameter). */
  clientOf?: (request: { params: Record<string, string>; query: URLSearchParams }) => string | undefined;
  /** For `registry`: the repository and action the request needs a token for (undefined: the handler refuses the path itself). */
  registryAccess?: (request: { params: Record<string, string>; method: string }) => { repository: string | null; action: OciAction } | undefined;
  /** One line for the route table (and the OpenAPI summary generated from it). */
  summary: string;
  /**
   * The zod schemas the handler validates with (the same objects, not copies): `/openapi.json`
   * is generated from them. `body` of a JSON request; `query` an object of query parameters.
   * `binaryBodies`: other media types the body may come as, not JSON (OTLP's protobuf), each with
   * what it holds.
   */
  schemas?: { body?: z.ZodType; query?: z.ZodType; bodyMediaType?: string; binaryBodies?: Readonly<Record<string, string>> };
  handler: Handler;
  errorShape?: ErrorShape;
  /** The route may answer 429 with Retry-After (an admission bound: set with it, as telemetry's `admitted` does): its OpenAPI operation lists it. */
  throttles?: boolean;
  /** The body may be GiB (OCI blob uploads): no total deadline, only the idle one (body-deadline.ts). */
  streamsBody?: boolean;
}

/** A feature's routes, built by a factory that takes that feature's dependencies. */
export type RouteSet = readonly Route[];
