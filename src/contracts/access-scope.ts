import type { IncomingMessage } from 'node:http';

/**
 * Who may call a route, enforced by one hook (server/route-scope.ts) before the handler runs:
 * - `public`: anyone;
 * - `credential`: a client or admin credential (HTTP Basic), never a bearer token, never a source;
 * - `client-own`: the admin, or the client that `clientOf` names (with none named, any client);
 * - `admin`: the admin credential;
 * - `telemetry-write`: admin, client or source credential; the handler then binds every event's
 *   subject to it (a client writes only `client:<id>`, a source only its subjects);
 * - `registry`: a bearer token from `/v1/token` (the Docker token flow); its repository scope is
 *   checked where the OCI path is parsed.
 */
export const routeScopes = ['public', 'credential', 'client-own', 'admin', 'telemetry-write', 'registry'] as const;
export type RouteScope = (typeof routeScopes)[number];

/** What a registry request does to a repository; grants' tokens carry the same actions. */
export const ociActions = ['pull', 'push', 'delete'] as const;
export type OciAction = (typeof ociActions)[number];

/**
 * Who a username/secret pair authenticates as. A source (a hypervisor exporter, a scraper, an
 * in-guest agent) may only write telemetry, and only about the subjects it was issued for.
 */
export type Principal = { kind: 'admin' } | { kind: 'client'; clientId: string } | { kind: 'source'; name: string; subjects: readonly string[] };

/**
 * Decides whether a request may act on a repository (null: the /v2/ base check). Throw an
 * AppError with code UNAUTHORIZED (answered 401; put `wwwAuthenticate` in its details for the
 * challenge header) or FORBIDDEN (403 DENIED). The workflow's scoped bearer tokens plug in here.
 */
export type Authorize = (request: { repository: string | null; action: OciAction; req: IncomingMessage }) => void | Promise<void>;

/** What the scope hook needs to know about credentials and tokens (Grants provides it in serve). */
export interface EdgeAuth {
  /** The principal of the request's credential (HTTP Basic); undefined when it sent none; throws 401 when it is not valid. */
  credentialOf(req: IncomingMessage): Principal | undefined | Promise<Principal | undefined>;
  /** Throws 401 with the Docker challenge unless the request carries a registry token for this repository and action. */
  registryToken(req: IncomingMessage, access: { repository: string | null; action: OciAction }): void | Promise<void>;
  /** Scopes that need nothing (`serve --no-auth`: `registry` and `client-own`). */
  open?: readonly RouteScope[];
  /** The challenge of a 401 on a credential route (`Basic realm="prescient"`). */
  basicChallenge: string;
}
