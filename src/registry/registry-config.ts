import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { firstIssueError } from '../core/field-issues.js';

/** An http(s) URL of a registry's host, no path, query or credentials (those go in credentialsFile). */
const registryUrl = z
  .string()
  .url()
  .refine((u) => {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
  }, 'expected http(s)://host[:port] with no path, query or credentials');

export const ociRegistryConfigSchema = z.strictObject({
  kind: z.literal('oci'),
  /** `http://127.0.0.1:5000`, `https://registry.example.com`. */
  url: registryUrl,
  /** Unverified TLS (a test registry); an http:// URL is plain HTTP already. */
  insecure: z.boolean().optional(),
  /**
   * A file holding `username:secret` that the registry's token realm (serve's /v1/token) accepts:
   * what a worker on another machine authenticates with. Without it, tokens are minted by this
   * home, which works where the registry trusts this home's certificate (the API server).
   */
  credentialsFile: z.string().min(1).optional(),
});
export type OciRegistryConfig = z.infer<typeof ociRegistryConfigSchema>;

/** `local`: the embedded OCI layout only (the default); `oci`: versions and layers also go to an external registry. */
export const registryConfigSchema = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('local') }), ociRegistryConfigSchema]);
export type RegistryConfig = z.infer<typeof registryConfigSchema>;

/** A configuration value (a file's `registry:`) checked, errors naming the field. */
export function parseRegistryConfig(value: unknown, field = 'registry'): RegistryConfig {
  const r = registryConfigSchema.safeParse(value);
  if (r.success) return r.data;
  throw firstIssueError(r.error, { root: field });
}

/**
 * The registry from the environment: PRESCIENT_REGISTRY_URL (unset: local),
 * PRESCIENT_REGISTRY_INSECURE=1, PRESCIENT_REGISTRY_CREDENTIALS_FILE.
 */
export function registryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const url = env['PRESCIENT_REGISTRY_URL'];
  if (url === undefined || url === '') return { kind: 'local' };
  const checked = registryUrl.safeParse(url);
  if (!checked.success) throw firstIssueError(checked.error, { root: 'PRESCIENT_REGISTRY_URL' });
  const insecure = env['PRESCIENT_REGISTRY_INSECURE'];
  if (insecure !== undefined && !['', '0', '1', 'true', 'false'].includes(insecure)) throw new ValidationError('PRESCIENT_REGISTRY_INSECURE', 'expected 1 or 0');
  const credentialsFile = env['PRESCIENT_REGISTRY_CREDENTIALS_FILE'];
  return { kind: 'oci', url, ...(insecure === '1' || insecure === 'true' ? { insecure: true } : {}), ...(credentialsFile ? { credentialsFile } : {}) };
}
