import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Grants } from '../../grants/grants.js';
import { Sessions } from '../../grants/session.js';
import { firstIssueError } from '../../core/field-issues.js';
import { sendJson } from '../http-error.js';
import { readJsonBody } from '../read-json-body.js';
import type { RouteSet } from '../router.js';

export interface SessionRoutesDeps {
  grants: Grants;
}

const loginSchema = z.strictObject({
  username: z.string().min(1).max(64),
  secret: z.string().min(1).max(256),
});

/**
 * The dashboard's login: `POST /v1/session` {username, secret} (a client credential or the
 * admin one) sets the session cookie; `GET /v1/session` says who is logged in; `DELETE` logs out.
 */
export function sessionRoutes(deps: SessionRoutesDeps): RouteSet {
  return [
    {
      method: 'POST',
      path: '/v1/session',
      scope: 'public',
      summary: "the dashboard's login: {username, secret} of a client or the admin sets an HttpOnly, SameSite=Strict session cookie (8 h)",
      handler: async ({ req, res }) => {
        const parsed = loginSchema.safeParse(await readJsonBody(req));
        if (!parsed.success) throw firstIssueError(parsed.error);
        const principal = deps.grants.credentials.authenticate(parsed.data.username, parsed.data.secret);
        if (!principal) throw new AppError('UNAUTHORIZED', 'unknown username or wrong secret', { details: { rule: 'credential' } });
        if (principal.kind === 'source') throw new AppError('FORBIDDEN', `source credential ${principal.name} only writes telemetry`, { details: { rule: 'scope:credential' } });
        const { cookie, expiresAt } = deps.grants.sessions.cookieFor(principal, { secure: overTls(req) });
        sendJson(res, 200, { ...viewerOf(principal), expiresAt }, { 'set-cookie': cookie, 'cache-control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/v1/session',
      scope: 'public',
      summary: "who the session cookie (or credential) stands for: {loggedIn, kind, clientId?}",
      handler: async ({ req, res }) => {
        // Not logged in is an answer here, not an error: the page asks this before it knows (and an
        // expired cookie is the same as none).
        let principal: ReturnType<Grants['credentialOf']>;
        try {
          principal = deps.grants.credentialOf(req);
        } catch {
          principal = undefined;
        }
        sendJson(res, 200, principal && principal.kind !== 'source' ? { loggedIn: true, ...viewerOf(principal) } : { loggedIn: false }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/session',
      scope: 'public',
      summary: "log out: clears the session cookie",
      handler: ({ req, res }) => {
        req.resume();
        sendJson(res, 200, { loggedOut: true }, { 'set-cookie': Sessions.clearCookie({ secure: overTls(req) }) });
      },
    },
  ];
}

export function viewerOf(p: { kind: 'admin' } | { kind: 'client'; clientId: string }): { kind: 'admin' | 'client'; clientId?: string } {
  return p.kind === 'admin' ? { kind: 'admin' } : { kind: 'client', clientId: p.clientId };
}

/** The request came over HTTPS (`serve --tls-cert`): its cookies are Secure. */
function overTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}
