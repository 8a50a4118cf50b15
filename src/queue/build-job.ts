import { z } from 'zod';
import { isDigest, sha256Digest, type Digest } from '../core/digest.js';
import { clientIdSchema } from '../contracts/identifiers.js';
import { policySchema } from '../policy/policy.js';
import { usageVectorSchema } from '../contracts/usage-vector.js';

const digest = z.string().refine(isDigest, 'a sha256 digest') as unknown as z.ZodType<Digest>;

/**
 * One build as a job: everything a worker on another machine needs to make exactly the image the
 * API server planned — the vector and the policy it was confined by travel with it, so the worker
 * plans the same (it checks: a different plan digest is a version skew, refused). The base travels
 * by name and recipe key: each machine has its own copy of the base, and a different key is refused.
 */
export const buildJobSchema = z.strictObject({
  clientId: clientIdSchema,
  repository: z.string().min(1).max(255),
  base: z.strictObject({ name: z.string().min(1).max(128), key: z.string().min(1).max(128) }),
  vector: usageVectorSchema,
  vectorDigest: digest,
  planDigest: digest,
  policy: policySchema,
  /** Absent: the pipeline's own option (as in process). */
  inGuestAgent: z.boolean().optional(),
});
export type BuildJob = z.infer<typeof buildJobSchema>;

/** What a finished job holds: the registered version (the worker's `BuiltImage`). */
export const buildJobResultSchema = z.strictObject({
  digest,
  version: z.number().int().positive(),
  tags: z.array(z.string()),
  spec: z.record(z.string(), z.unknown()),
});
export type BuildJobResult = z.infer<typeof buildJobResultSchema>;

/**
 * The one key of a build across all workers and API servers: at most one job of a key is queued
 * or running at a time (the queue's singleton key). Hashed to keep it short.
 */
export function buildKey(job: Pick<BuildJob, 'repository' | 'base' | 'planDigest'>): string {
  return sha256Digest(`${job.repository}\n${job.base.key}\n${job.planDigest}`);
}

export const buildStates = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type BuildState = (typeof buildStates)[number];
