import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { clientIdPattern } from '../../contracts/identifiers.js';
import type { SshKeyStore } from '../../login/ssh-key-store.js';
import { sendJson } from '../http-error.js';
import { readJsonBody } from '../read-json-body.js';
import type { RouteSet } from '../router.js';

export interface SshKeyRoutesDeps {
  keys: SshKeyStore;
}

const clientOfRequest = ({ params }: { params: Record<string, string> }): string | undefined => params['clientId'];

const bodySchema = z.strictObject({
  key: z.string().min(1).max(16 * 1024).describe('an OpenSSH public key line'),
  user: z.string().max(32).optional().describe('the login name on its machines'),
});

function clientOf(params: Record<string, string>): string {
  const clientId = params['clientId']!;
  if (!clientIdPattern.test(clientId)) throw new ValidationError('clientId', 'lowercase letters, digits and single . _ - between them');
  return clientId;
}

/**
 * A client's login on its machines, by the client itself (its credential) or the admin (the
 * `client-own` scope):
 * `POST /v1/clients/<id>/ssh-keys` {key, user?} registers a public key (201, the login with
 * fingerprints), `GET` lists it, `DELETE …/ssh-keys/<fingerprint>` removes one. The next image
 * made for the client carries them in its seed.
 */
export function sshKeyRoutes(deps: SshKeyRoutesDeps): RouteSet {
  return [
    {
      method: 'POST',
      path: '/v1/clients/:clientId/ssh-keys',
      scope: 'client-own',
      clientOf: clientOfRequest,
      summary: "register an SSH public key (and the login name) for the client's machines",
      handler: async ({ req, res, params }) => {
        const clientId = clientOf(params);
        const parsed = bodySchema.safeParse(await readJsonBody(req, 32 * 1024));
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new ValidationError(issue.path.length ? issue.path.join('.') : 'body', issue.message);
        }
        sendJson(res, 201, await deps.keys.add(clientId, parsed.data.key, parsed.data.user ? { user: parsed.data.user } : {}));
      },
    },
    {
      method: 'GET',
      path: '/v1/clients/:clientId/ssh-keys',
      scope: 'client-own',
      clientOf: clientOfRequest,
      summary: "the client's login name and SSH key fingerprints",
      handler: async ({ res, params }) => {
        const clientId = clientOf(params);
        sendJson(res, 200, (await deps.keys.get(clientId)) ?? { user: null, keys: [] });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/clients/:clientId/ssh-keys/:fingerprint',
      scope: 'client-own',
      clientOf: clientOfRequest,
      summary: 'remove one of the client\'s SSH keys by its fingerprint',
      handler: async ({ res, params }) => {
        const clientId = clientOf(params);
        sendJson(res, 200, await deps.keys.remove(clientId, params['fingerprint']!));
      },
    },
  ];
}
