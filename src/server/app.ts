import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { AppError, NotFoundError, ValidationError } from '../core/errors.js';
import { errorResponse, MethodNotAllowedError } from './http-error.js';
import type { Principal } from '../contracts/access-scope.js';
import { lingerBeforeClose } from './linger.js';
import { defaultBodyDeadline, watchBodyDeadline, type BodyDeadline } from './body-deadline.js';
import { type EdgeAuth } from '../contracts/access-scope.js';
import { enforceScope, principalLabel } from './route-scope.js';
import type { ErrorShape, Route, RouteSet } from './router.js';

export interface AppOptions {
  routes: readonly RouteSet[];
  /** Structured request and error logs (default: none). `serve` logs JSON lines to stderr. */
  logger?: Logger;
  /** Credentials and tokens for the route scopes; without it every scope is open (tests of one route set). */
  auth?: EdgeAuth;
  /** Told every answered request (the metrics' duration histogram); `route` is the pattern, `unmatched` for none. */
  observeRequest?: (r: { method: string; route: string; status: number; seconds: number }) => void;
  /** Serve HTTPS with this certificate (PEM) and key: credentials and grants cross the network. */
  tls?: { cert: Buffer; key: Buffer };
  /** How long a request body may take (default: defaultBodyDeadline). */
  bodyDeadline?: BodyDeadline;
}

export type App = FastifyInstance;

declare module 'fastify' {
  interface FastifyContextConfig {
    errorShape?: ErrorShape;
    edgeRoute?: Route;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/**
 * The HTTP edge on Fastify: every feature contributes a RouteSet; request ids, the request-target
 * check, request and error logs, error mapping and the lingering close are hooks written once here. No body parser
 * runs: handlers read the raw request as a stream (OCI blobs are GiB), each with its own limit.
 */
export function createApp(options: AppOptions): App {
  const log = options.logger ?? pino({ level: 'silent' });
  const routes: Route[] = options.routes.flat();
  // An HTTPS instance has the same routes and hooks; only its server type differs.
  const app = fastify({
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
    return503OnClosing: true,
    genReqId: requestIdOf,
    // Node would answer a missing Host with an empty 400; the onRequest hook answers it naming the field.
    http: { requireHostHeader: false },
    // Long OCI names and digests are path parameters; find-my-way's default of 100 would 404 them.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: (error, request, reply) => {
      sendError(request, reply, new ValidationError('request target', error.message, { rule: 'percent-encoding' }));
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => answerClientError(log, error, socket),
  }) as unknown as App;

  // Bodies stay unread for the handlers (streamed, with limits of their own).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request: FastifyRequest, _payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => done(null, undefined));

  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const started = performance.now();
    reply.raw.setHeader('x-request-id', request.id);
    // An early answer (401, 404, 413) to a request whose body is still arriving must reach the client.
    lingerBeforeClose({ req: request.raw });
    reply.raw.once('close', () => {
      options.observeRequest?.({ method: request.raw.method ?? 'GET', route: request.routeOptions.url ?? 'unmatched', status: reply.raw.statusCode, seconds: (performance.now() - started) / 1000 });
      // request.log binds reqId itself: naming it here too wrote the key twice on every line.
      request.log.info(
        { method: request.raw.method, path: pathOf(request.raw.url), status: reply.raw.statusCode, client: principalLabel(request.principal), ms: Math.round((performance.now() - started) * 10) / 10, remote: request.ip, ...(reply.raw.writableFinished ? {} : { aborted: true }) },
        'request',
      );
    });
    checkRequestTarget(request.raw.url ?? '');
    if (request.raw.httpVersion === '1.1' && !request.raw.headers.host) throw new ValidationError('host', 'an HTTP/1.1 request needs a Host header', { rule: 'rfc9112-host' });
    const route = request.routeOptions.config?.edgeRoute;
    watchBodyDeadline({
      req: request.raw,
      res: reply.raw,
      limits: options.bodyDeadline ?? defaultBodyDeadline,
      streamsBody: route?.streamsBody === true,
      onExpired: (what, ms) => answerBodyTimeout(request, reply, what, ms),
    });
    if (route === undefined) return;
    request.principal = await enforceScope({
      route,
      auth: options.auth,
      req: request.raw,
      params: request.params as Record<string, string>,
      query: () => new URL(request.raw.url ?? '/', 'http://localhost').searchParams,
    });
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, fromFrameworkError(error as Error)));

  const patterns = routes.map((r) => ({ methods: methodsOf(r), re: patternOf(r.path) }));
  app.setNotFoundHandler((request, reply) => {
    const method = request.raw.method ?? 'GET';
    const path = pathOf(request.raw.url);
    if (patterns.some((p) => p.re.test(path))) sendError(request, reply, new MethodNotAllowedError(method, path));
    else sendError(request, reply, new NotFoundError(`no route for ${method} ${path}`, { rule: 'route' }));
  });

  for (const route of routes) {
    const errorShape = route.errorShape ?? 'prescient';
    const prefix = route.path.endsWith('*') ? route.path.slice(0, -1) : undefined;
    app.route({
      method: methodsOf(route).filter((m) => m !== 'HEAD' || !methodsOf(route).includes('GET')),
      url: route.path,
      config: { errorShape, edgeRoute: route },
      handler: async (request, reply) => {
        // The handler writes the raw response itself (streams, ranges, chunked NDJSON).
        reply.hijack();
        const req = request.raw;
        const res = reply.raw;
        const controller = new AbortController();
        res.once('close', () => {
          if (!res.writableFinished) controller.abort();
        });
        const params: Record<string, string> = { ...(request.params as Record<string, string>) };
        if (prefix !== undefined) params['*'] = pathOf(req.url).slice(prefix.length);
        try {
          await route.handler({ req, res, url: new URL(req.url ?? '/', 'http://localhost'), params, signal: controller.signal, requestId: request.id, principal: request.principal });
        } catch (e) {
          const r = errorResponse(e, errorShape, request.id, req);
          if (r.unexpected) request.log.error({ err: e }, 'unexpected error');
          if (res.headersSent) {
            res.destroy();
            return;
          }
          // The request body may be unread (a refused upload): drain it so the client sees the answer.
          req.resume();
          res.writeHead(r.status, { 'content-length': r.payload.length, ...r.headers });
          res.end(r.payload);
        }
      },
    });
  }
  return app;
}

/** Listen and resolve with the bound address (port 0 picks a free port). */
export async function listen(app: App, port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
  await app.listen({ port, host });
  const addr = app.server.address();
  if (addr && typeof addr === 'object') return { host: addr.address, port: addr.port };
  throw new AppError('INTERNAL', 'server has no address');
}

/** 408 naming the body, if nothing was answered yet (`connection: close`: the lingering close ends the socket within its limits). */
function answerBodyTimeout(request: FastifyRequest, reply: FastifyReply, what: 'total' | 'idle', ms: number): void {
  const res = reply.raw;
  if (res.headersSent) return void res.destroy();
  const message = what === 'total' ? `not received within ${ms / 1000} s` : `no byte of it arrived for ${ms / 1000} s`;
  const r = errorResponse(new ValidationError('body', message, { rule: `body-${what}-timeout` }), request.routeOptions.config?.errorShape ?? 'prescient', request.id, request.raw);
  res.writeHead(408, { ...r.headers, 'content-length': r.payload.length, connection: 'close' });
  res.end(r.payload);
}

function sendError(request: FastifyRequest, reply: FastifyReply, e: unknown): void {
  const r = errorResponse(e, request.routeOptions.config?.errorShape ?? 'prescient', request.id, request.raw);
  if (r.unexpected) request.log.error({ err: e }, 'unexpected error');
  request.raw.resume();
  void reply.code(r.status).headers(r.headers).send(r.payload);
}

/** Fastify's own errors (FST_…) carry a 4xx status; they become AppErrors with the rule named. */
function fromFrameworkError(error: Error & { statusCode?: number; code?: string }): unknown {
  if (error instanceof AppError) return error;
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return error;
  const rule = { rule: error.code ?? 'http' };
  if (status === 413) return new AppError('PAYLOAD_TOO_LARGE', error.message, { details: rule });
  if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', error.message, { details: rule });
  if (status === 404) return new NotFoundError(error.message, rule);
  return new ValidationError('request', error.message, rule);
}

/**
 * A request target must be an origin-form path: `//`, `/\`, absolute URLs (`http://[`) and
 * control characters would make URL parsing see a host where we expect a path.
 */
function checkRequestTarget(target: string): void {
  const reason = !target.startsWith('/')
    ? 'must be a path starting with /'
    : target.startsWith('//')
      ? 'must not start with //'
      : target.includes('\\')
        ? 'must not contain a backslash'
        : /[^\x21-\x7e]/.test(target)
          ? 'must be printable ASCII (percent-encode the rest)'
          : undefined;
  // What passes (one leading /, printable ASCII, no backslash) always parses against a base URL, so no URL is built here.
  if (reason) throw new ValidationError('request target', reason, { rule: 'origin-form' });
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0]!;
}

function methodsOf(route: Route): string[] {
  return typeof route.method === 'string' ? [route.method] : [...route.method];
}

/** The find-my-way path as a regular expression over the raw path, for telling 405 from 404. */
function patternOf(path: string): RegExp {
  const body = path
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

function answerClientError(log: Logger, error: Error & { code?: string }, socket: Socket): void {
  log.info({ err: { code: error.code, message: error.message } }, 'malformed request');
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  const body = JSON.stringify({ error: 'VALIDATION', message: `request: not valid HTTP/1.1 (${error.code ?? 'parse error'})`, details: { field: 'request', rule: error.code ?? 'http' } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
