import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A deliberately small router over node:http. Paths are regular expressions with named groups
 * because OCI repository names contain slashes (`/v2/<name>/manifests/<reference>`), which
 * segment-pattern routers cannot express. Handlers stream: nothing buffers a body for them.
 */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  signal: AbortSignal;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

export interface Route {
  method: string | readonly string[];
  path: RegExp;
  handler: Handler;
}

/** A feature's routes, built by a factory that takes that feature's dependencies. */
export type RouteSet = readonly Route[];

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export function matchRoute(routes: readonly Route[], method: string, pathname: string): Match | 'method-not-allowed' | undefined {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.path.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    const methods = typeof route.method === 'string' ? [route.method] : route.method;
    const ok = methods.includes(method) || (method === 'HEAD' && methods.includes('GET'));
    if (ok) return { route, params: { ...(m.groups ?? {}) } };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}
