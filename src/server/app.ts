import { createServer, type Server } from 'node:http';
import { AppError } from '../core/errors.js';
import { sendError } from './http-error.js';
import { matchRoute, type Route, type RouteSet } from './router.js';

export interface AppOptions {
  routes: readonly RouteSet[];
  /** Called once per request after it finished, for logs and metrics. */
  onRequest?: (info: { method: string; path: string; status: number; ms: number }) => void;
}

/** The HTTP server: every feature contributes a RouteSet; errors are mapped in one place. */
export function createApp(options: AppOptions): Server {
  const routes: Route[] = options.routes.flat();
  return createServer((req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
      options.onRequest?.({ method, path: url.pathname, status: res.statusCode, ms: performance.now() - started });
    });
    // Route on the path as sent: URL parsing would resolve `..` segments and hide a traversal attempt from the route.
    const match = matchRoute(routes, method, req.url?.startsWith('/') ? req.url.split('?')[0]! : url.pathname);
    if (match === undefined) return sendError(res, new AppError('NOT_FOUND', `no route for ${method} ${url.pathname}`));
    if (match === 'method-not-allowed') {
      res.writeHead(405, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'METHOD_NOT_ALLOWED', message: `${method} not allowed on ${url.pathname}` }));
      return;
    }
    Promise.resolve()
      .then(() => match.route.handler({ req, res, url, params: match.params, signal: controller.signal }))
      .catch((e: unknown) => sendError(res, e));
  });
}

/** Listen and resolve with the bound address (port 0 picks a free port). */
export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      if (addr && typeof addr === 'object') resolve({ host: addr.address, port: addr.port });
      else reject(new Error('server has no address'));
    });
  });
}
