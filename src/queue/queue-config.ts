import { z } from 'zod';
import { firstIssueError } from '../core/field-issues.js';

/**
 * Where builds are queued: none (the default: every build runs in the process that needs it, as
 * on one machine), or a PostgreSQL database shared by the API servers and `prescient worker`s.
 * The URL is a secret when it carries a password: it comes from the environment or a file only
 * root reads (the systemd units' EnvironmentFile), and is never printed with it.
 */
export const queueConfigSchema = z.strictObject({
  kind: z.literal('postgres'),
  url: z
    .string()
    .max(2048)
    .refine((u) => /^postgres(ql)?:\/\//.test(u) && URL.canParse(u), 'a postgres:// URL'),
});
export type QueueConfig = z.infer<typeof queueConfigSchema>;

/** The environment variable that configures the queue (until the configuration file names it). */
export const queueUrlVariable = 'PRESCIENT_QUEUE_URL';

/** The queue of a flag (`--queue-url`) or of PRESCIENT_QUEUE_URL; undefined: builds run in process. */
export function queueConfigFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): QueueConfig | undefined {
  const url = flag ?? env[queueUrlVariable];
  if (url === undefined || url === '') return undefined;
  // The URL alone is checked, so the field named is the flag or the variable it came from.
  const parsed = queueConfigSchema.shape.url.safeParse(url);
  if (!parsed.success) throw firstIssueError(parsed.error, { root: flag !== undefined ? '--queue-url' : queueUrlVariable });
  return { kind: 'postgres', url: parsed.data };
}
