import { z } from 'zod';
import { checkClientId, clientIdSchema } from '../../contracts/identifiers.js';
import { AppError, serverSideMessage } from '../../core/errors.js';
import { firstIssueError } from '../../core/field-issues.js';
import type { RequestResult } from '../../workflow/request-result.js';
import type { RequestWorkflow } from '../../workflow/request-workflow.js';
import type { WorkflowEvent } from '../../workflow/workflow-event.js';
import { errorResponse, sendJson } from '../http-error.js';
import { readJsonBody } from '../read-json-body.js';
import type { RouteSet } from '../router.js';

export interface RequestRoutesDeps {
  workflow: Pick<RequestWorkflow, 'handle' | 'cancel'>;
  /** With a build queue: cancel the client's queued and running jobs too (whoever queued them); their ids. */
  cancelQueued?: (clientId: string) => Promise<string[]>;
}

const requestBodySchema = z
  .strictObject({
    account: z.string().min(1).max(256).optional(),
    clientId: clientIdSchema.optional(),
    base: z.string().min(1).max(128).optional(),
    parameters: z.record(z.string(), z.string()).optional(),
  })
  .refine((b) => b.account !== undefined || b.clientId !== undefined, { message: 'an account or a clientId is needed', path: ['account'] });

/**
 * `POST /v1/requests` {account | clientId, base?, parameters?} → the image reference and digest,
 * the VM spec and a pull grant. With `Accept: application/x-ndjson` (or `?stream=1`) the answer
 * is one JSON object per line: progress events, then `{type:"result",…}` or `{type:"error",…}`.
 * Needs a credential: the admin may request for anyone, a client only for itself.
 */
export function requestRoutes(deps: RequestRoutesDeps): RouteSet {
  return [
    {
      method: 'POST',
      path: '/v1/requests',
      scope: 'credential',
      summary: 'an image for a client: identify → predict → personalise → register → grant',
      schemas: { body: requestBodySchema },
      handler: async ({ req, res, url, signal, principal, requestId }) => {
        // A build that failed on the server's side is told by request id: its words (a tool's, a path) are the log's.
        const told = <T extends { message?: string; serverSide?: true }>(e: T): T => (e.serverSide ? { ...e, message: serverSideMessage(requestId), serverSide: undefined } : e);
        const result = (r: RequestResult): RequestResult => (r.buildError ? { ...r, buildError: told(r.buildError) } : r);
        const parsed = requestBodySchema.safeParse(await readJsonBody(req));
        if (!parsed.success) throw firstIssueError(parsed.error);
        const authorizeClient = (identity: { clientId: string }): void => {
          if (principal?.kind === 'client' && principal.clientId !== identity.clientId) {
            throw new AppError('FORBIDDEN', `credential of ${principal.clientId} cannot request images of ${identity.clientId}`, { details: { rule: 'scope:client-own' } });
          }
        };
        const stream = url.searchParams.get('stream') === '1' || (req.headers.accept ?? '').includes('application/x-ndjson');
        if (!stream) {
          sendJson(res, 200, result(await deps.workflow.handle(parsed.data, { signal, authorizeClient, requestId })));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        const line = (value: unknown): void => {
          if (!res.writableEnded) res.write(`${JSON.stringify(value)}\n`);
        };
        try {
          const answer = await deps.workflow.handle(parsed.data, { signal, authorizeClient, requestId, onEvent: (e: WorkflowEvent) => line({ ...(e.type === 'build' ? told(e) : e), at: new Date().toISOString() }) });
          line({ type: 'result', result: result(answer) });
        } catch (e) {
          // The answer the error would have had before the stream began, as a line; the outcome log
          // (the dashboard's) keeps the whole message of a server-side one.
          const r = errorResponse(e, 'prescient', requestId);
          line({ type: 'error', status: r.status, ...(JSON.parse(r.payload.toString()) as object) });
        }
        res.end();
      },
    },
    {
      // Administrative: cancel a client's builds in flight or queued.
      method: 'DELETE',
      path: '/v1/clients/:clientId/builds',
      scope: 'admin',
      summary: "cancel a client's builds in flight or queued",
      handler: async ({ res, params }) => {
        const clientId = checkClientId(params['clientId']!);
        const here = deps.workflow.cancel(clientId);
        if (!deps.cancelQueued) {
          sendJson(res, 200, { cancelled: here });
          return;
        }
        // The builds this server waits for are among the queued ones: count each once.
        const queued = await deps.cancelQueued(clientId);
        sendJson(res, 200, { cancelled: Math.max(here, queued.length), queued });
      },
    },
  ];
}
