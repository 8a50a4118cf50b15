import { z } from 'zod';
import { checkClientId } from '../../contracts/identifiers.js';
import type { SshKeyStore } from '../../login/ssh-key-store.js';
import { sendJson } from '../http-error.js';
import { readJsonBody } from '../read-json-body.js';
import { firstIssueError } from '../../core/field-issues.js';
import type { RequestContext, Route, RouteSet } from '../router.js';

export interface SshKeyRoutesDeps {
  keys: SshKeyStore;
}

const bodySchema = z.strictObject({
  key: z.string().min(1).max(16 * 1024).describe('an OpenSSH public key line'),
  user: z.string().max(32).optional().describe('the login name on its machines'),
});

/**
 * A route about the keys of the client its path names (`client-own`): the id is checked, and
 * what `answer` returns is sent as JSON with `status`.
 */
function keysRoute(route: { method: string; path: string; summary: string; status: number; answer: (clientId: string, ctx: RequestContext) => Promise<unknown> }): Route {
  return {
    method: route.method,
    path: route.path,
    scope: 'client-own',
    clientOf: ({ params }) => params['clientId'],
    summary: route.summary,
    handler: async (ctx) => {
      const clientId = checkClientId(ctx.params['clientId']!);
      sendJson(ctx.res, route.status, await route.answer(clientId, ctx));
    },
  };
}

/**
 * A client's login on its machines, by the client itself (its credential) or the admin (the
 * `client-own` scope):
 * `POST /v1/clients/<id>/ssh-keys` {key, user?} registers a public key (201, the login with
 * fingerprints), `GET` lists it, `DELETE …/ssh-keys/<fingerprint>` removes one. The next image
 * made for the client carries them in its seed.
 */
export function sshKeyRoutes(deps: SshKeyRoutesDeps): RouteSet {
  const keys = '/v1/clients/:clientId/ssh-keys';
  return [
    keysRoute({
      method: 'POST',
      path: keys,
      summary: "register an SSH public key (and the login name) for the client's machines",
      status: 201,
      answer: async (clientId, { req }) => {
        const parsed = bodySchema.safeParse(await readJsonBody(req, 32 * 1024));
        if (!parsed.success) throw firstIssueError(parsed.error);
        return deps.keys.add(clientId, parsed.data.key, parsed.data.user ? { user: parsed.data.user } : {});
      },
    }),
    keysRoute({ method: 'GET', path: keys, summary: "the client's login name and SSH key fingerprints", status: 200, answer: async (clientId) => (await deps.keys.get(clientId)) ?? { user: null, keys: [] } }),
    keysRoute({ method: 'DELETE', path: `${keys}/:fingerprint`, summary: "remove one of the client's SSH keys by its fingerprint", status: 200, answer: (clientId, { params }) => deps.keys.remove(clientId, params['fingerprint']!) }),
  ];
}
