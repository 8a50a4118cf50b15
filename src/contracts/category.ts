import { z } from 'zod';

/**
 * A category names a group of subjects ("web-dev", "gpu-training", "web.frontend"), never a
 * person. One rule for every stage — telemetry, identification rules, usage vectors, model
 * scopes — so a category accepted at ingest is never refused by the request workflow.
 */
export const categoryPattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const categorySchema = z.string().regex(categoryPattern, 'expected a lower-case slug (a-z, 0-9, . _ -), at most 64 characters');
