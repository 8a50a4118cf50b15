import type { Principal } from '../../contracts/access-scope.js';
import { z } from 'zod';
import { AppError, ValidationError } from '../../core/errors.js';
import type { Predictor } from '../../contracts/predictor.js';
import { usageVectorJsonSchema } from '../../usage-vector/json-schema.js';
import { usageVectorSchema } from '../../contracts/usage-vector.js';
import { firstIssueError } from '../../core/field-issues.js';
import { checkUsageVector } from '../../usage-vector/validate.js';
import { sendJson } from '../http-error.js';
import type { RequestContext, RouteSet } from '../router.js';

/**
 * Prediction over HTTP: the usage vector of a client or a category, the vector JSON Schema, and
 * validation of a vector made elsewhere.
 *
 *   GET  /v1/usage-vectors?client=X[&category=C][&horizonHours=24]
 *   GET  /v1/usage-vectors/schema
 *   POST /v1/usage-vectors/validate   (body: a vector; answers {valid, issues:[{path,message}]}, the first 100, and issueCount when there are more)
 */
export interface PredictRouteDeps {
  predictor: Predictor;
  /**
   * A check beyond the route's scope (client-own: a client reads only its own vector), e.g. that
   * a category is large enough for its vector to tell nothing about one member.
   */
  authorize?: (request: { principal: Principal | undefined; client: string | undefined; category: string | undefined }) => Promise<void> | void;
  /** A client id as the history knows it (the store keeps pseudonyms); default: as given. */
  subjectOf?: (client: string) => string;
}

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/);
const query = z
  .object({ client: id.optional(), category: id.optional(), horizonHours: z.coerce.number().positive().max(8784).optional() })
  .refine((q) => q.client !== undefined || q.category !== undefined, { message: 'give client or category', path: ['client'] });

const maxBody = 1 << 20;
/** Issues a validate answer lists: a public 1 MiB body of 27,000 bad entries answered 2.6 MB in a second of the event loop. */
const maxIssues = 100;

async function readJson(ctx: RequestContext): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new AppError('PAYLOAD_TOO_LARGE', `body: a usage vector is at most ${maxBody} bytes`, { details: { field: 'body', rule: 'max-body-bytes', maxBytes: maxBody } });
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new ValidationError('body', `not JSON: ${(e as Error).message}`);
  }
}

/** A category's vector is an aggregate only when it has this many clients; below, it describes someone. */
export const minCategoryMembers = 3;

/**
 * The authorize check `serve` uses: a client may read a category's vector only when the category
 * has at least `minMembers` clients (the admin always may). `membersOf` counts them. A client that
 * names its own id beside the category is held to it too: without a model of its own, the answer
 * is the category's.
 */
export function categorySizeRule(input: { membersOf: (category: string) => Promise<number>; minMembers?: number }): NonNullable<PredictRouteDeps['authorize']> {
  const min = input.minMembers ?? minCategoryMembers;
  return async ({ principal, category }) => {
    if (principal?.kind !== 'client' || category === undefined) return;
    if ((await input.membersOf(category)) < min) {
      throw new AppError('FORBIDDEN', `category: ${category} has fewer than ${min} clients, so its vector would describe one of them`, { details: { field: 'category', rule: 'category-min-members', minMembers: min } });
    }
  };
}

export function predictRoutes(deps: PredictRouteDeps): RouteSet {
  return [
    {
      method: 'GET',
      path: '/v1/usage-vectors/schema',
      scope: 'public',
      summary: 'the usage vector JSON Schema',
      handler: ({ res }) => sendJson(res, 200, usageVectorJsonSchema()),
    },
    {
      method: 'POST',
      path: '/v1/usage-vectors/validate',
      scope: 'public',
      summary: 'validate a usage vector made elsewhere',
      schemas: { body: usageVectorSchema },
      handler: async (ctx) => {
        const issues = checkUsageVector(await readJson(ctx));
        sendJson(ctx.res, issues.length === 0 ? 200 : 422, { valid: issues.length === 0, issues: issues.slice(0, maxIssues), ...(issues.length > maxIssues ? { issueCount: issues.length } : {}) });
      },
    },
    {
      method: 'GET',
      path: '/v1/usage-vectors',
      scope: 'client-own',
      clientOf: ({ query }) => query.get('client') ?? undefined,
      summary: "a client's (or a category's) predicted usage vector",
      schemas: { query },
      handler: async ({ res, url, signal, principal }) => {
        const parsed = query.safeParse(Object.fromEntries(url.searchParams));
        if (!parsed.success) throw firstIssueError(parsed.error);
        const q = parsed.data;
        await deps.authorize?.({ principal, client: q.client, category: q.category });
        const vector = await deps.predictor.predict({
          ...(q.client ? { clientId: deps.subjectOf ? deps.subjectOf(q.client) : q.client } : {}),
          ...(q.category ? { category: q.category } : {}),
          ...(q.horizonHours ? { horizonHours: q.horizonHours } : {}),
          signal,
        });
        sendJson(res, 200, vector);
      },
    },
  ];
}
