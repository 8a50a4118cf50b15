import type { IncomingMessage, ServerResponse } from 'node:http';

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
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** How errors under a route are shaped: Prescient's `{error, message}` or the OCI spec's `{errors:[…]}`. */
export const errorShapes = ['prescient', 'oci'] as const;
export type ErrorShape = (typeof errorShapes)[number];

export interface Route {
  method: string | readonly string[];
  /**
   * A find-my-way path (`/v1/clients/:clientId/credentials`, `/v2/*`). Named parameters are
   * handed to the handler percent-decoded; a `*` wildcard as the raw path sent, so `..` and
   * `%2F` reach the handler as written instead of being resolved.
   */
  path: string;
  handler: Handler;
  errorShape?: ErrorShape;
}

/** A feature's routes, built by a factory that takes that feature's dependencies. */
export type RouteSet = readonly Route[];
