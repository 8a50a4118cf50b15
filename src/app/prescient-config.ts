import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { readOptionalJsonFile } from '../core/optional-json-file.js';
import { ociRegistryConfigSchema, type RegistryConfig } from '../registry/registry-config.js';
import { postgresUrlSchema } from '../store/postgres/postgres-store.js';
import { firstIssueError } from '../core/field-issues.js';
import { queueConfigSchema } from '../queue/queue-config.js';

/** The store adapters Prescient can open (contracts of src/store/store.ts). */
export const storeAdapters = ['sqlite', 'postgres'] as const;
export type StoreAdapter = (typeof storeAdapters)[number];

/**
 * `"sqlite"` (or `{ "kind": "sqlite" }`): the files in the home. `{ "kind": "postgres", "url":
 * "postgres://…" }`: one database shared by every server and worker (src/store/README.md).
 */
const storeSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { kind: v } : v),
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('sqlite') }),
    z.strictObject({
      kind: z.literal('postgres'),
      url: postgresUrlSchema.describe('postgres://user@host:port/database'),
      maxConnections: z.number().int().min(1).max(1000).optional().describe('connections per process (default 10)'),
    }),
  ]),
);
export type StoreConfig = z.infer<typeof storeSchema>;

/**
 * Where image versions are kept: `local`, the OCI layout under PRESCIENT_HOME; `oci`, that layout
 * and an external OCI registry shared with the other machines (registry/registry-config.ts).
 */
export const registryAdapters = ['local', 'oci'] as const;
export type RegistryAdapter = (typeof registryAdapters)[number];

/**
 * How Prescient is put together. Every setting has a default that is the zero-configuration
 * installation (SQLite in the home, the local OCI layout), so an absent file changes nothing.
 * Strict: a misspelt key is refused rather than silently ignored.
 */
export const prescientConfigSchema = z.strictObject({
  store: storeSchema.default({ kind: 'sqlite' }).describe('the telemetry and metadata store'),
  registry: z
    .union([z.literal('local'), ociRegistryConfigSchema])
    .default('local')
    .describe('where image versions are kept: "local", or also an external registry { "kind": "oci", "url", "insecure"?, "credentialsFile"? }'),
  queue: queueConfigSchema
    .optional()
    .describe("where builds are queued for 'prescient worker's ({kind: 'postgres', url}); absent: every build runs in the process that needs it"),
});

export type PrescientConfig = z.infer<typeof prescientConfigSchema>;

/** `$PRESCIENT_HOME/config.json`: optional. */
export function configFile(home: string): string {
  return join(home, 'config.json');
}

/** Validates a configuration value; the error names the file and the field. */
export function parsePrescientConfig(value: unknown, source = 'config.json'): PrescientConfig {
  const r = prescientConfigSchema.safeParse(value ?? {});
  if (r.success) return r.data;
  // A misspelt key is named by itself, not by the object that holds it.
  throw firstIssueError(r.error, { file: source });
}

/**
 * The installation's configuration: its config.json, or the defaults when there is none; then
 * the environment: `PRESCIENT_STORE_URL=postgres://…` chooses the PostgreSQL store (over the file).
 */
export async function loadPrescientConfig(home: string, env: NodeJS.ProcessEnv = process.env): Promise<PrescientConfig> {
  const file = configFile(home);
  const config = parsePrescientConfig(await readOptionalJsonFile(file), file);
  if (config.store.kind === 'postgres' && new URL(config.store.url).password !== '') {
    // A password in the file is a secret at rest: only where nobody else can read it.
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) {
      throw new ValidationError('store.url', `holds a password but ${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it, or leave the password out of the URL and use ~/.pgpass or PGPASSWORD`, { source: file });
    }
  }
  const url = env.PRESCIENT_STORE_URL;
  if (url !== undefined && url !== '') {
    const r = postgresUrlSchema.safeParse(url);
    if (!r.success) throw firstIssueError(r.error, { root: 'PRESCIENT_STORE_URL' });
    const maxConnections = config.store.kind === 'postgres' ? config.store.maxConnections : undefined;
    return { ...config, store: { kind: 'postgres', url: r.data, ...(maxConnections === undefined ? {} : { maxConnections }) } };
  }
  return config;
}

/**
 * The registry a configuration names, the environment's PRESCIENT_REGISTRY_URL (and _INSECURE,
 * _CREDENTIALS_FILE) winning over the file, as a flag would.
 */
export function registryConfigOf(config: PrescientConfig, fromEnv: RegistryConfig): RegistryConfig {
  if (fromEnv.kind === 'oci') return fromEnv;
  return config.registry === 'local' ? { kind: 'local' } : config.registry;
}
