import { join } from 'node:path';
import { z } from 'zod';
import type { Paths } from '../core/config.js';
import { readOptionalJsonFile } from '../core/optional-json-file.js';
import { writePrivateFile } from '../core/private-file.js';
import { FileIdentityCache } from '../core/file-identity.js';
import { debianPackageNamePattern, guestPathPattern, hostPattern } from '../contracts/usage-vector.js';
import { firstIssueError } from '../core/field-issues.js';

/**
 * The admin policy (`<home>/policy.json`): what a usage vector may contain, whoever made it.
 * Telemetry describes and prediction proposes; only this file lets a vector name host data,
 * open a port, reach a host or use a base. A missing file is the safe default below.
 */

/** A catalogue name: one path component, so `NAME/sub/path` can address a file in a folder entry. */
export const datasetNamePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Base names as the catalog names them (`debian-12`). */
export const baseNamePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const port = z.number().int().min(1).max(65535);
const protocol = z.enum(['tcp', 'udp']);

export const datasetEntrySchema = z.strictObject({
  name: z.string().regex(datasetNamePattern, 'lowercase letters, digits, . _ - (one path component)'),
  kind: z.enum(['file', 'folder']).describe('a file is copied whole; a folder lends any file below it (NAME/relative/path)'),
  /** An absolute host path; recorded by `prescient datasets add`, which checks it. */
  path: z.string().min(2).max(4096).regex(/^\/[^\u0000-\u001f]*$/, 'an absolute host path'),
  maxBytes: z.number().int().positive().describe('the most the data module reads from this source for one image'),
  destination: z.string().max(4096).regex(guestPathPattern, 'an absolute, normalised guest path').optional().describe('where a predicted use of it lands in the guest'),
  /** For data registered from a URL: where it was fetched from (`path` is the capped copy in the home's cache). */
  url: z.url({ protocol: /^https?$/ }).max(4096).optional(),
});
export type DatasetEntry = z.infer<typeof datasetEntrySchema>;

export const policySchema = z.strictObject({
  datasets: z.array(datasetEntrySchema).default([]).refine((d) => new Set(d.map((e) => e.name)).size === d.length, 'dataset names must be unique'),
  packages: z.strictObject({ deny: z.array(z.string().regex(debianPackageNamePattern, 'a Debian package name')).default([]) }).default({ deny: [] }),
  inbound: z.strictObject({ allow: z.array(z.strictObject({ port, protocol })).default([]) }).default({ allow: [] }),
  outbound: z
    .strictObject({
      allow: z
        .array(z.strictObject({ host: z.string().max(253).regex(hostPattern, 'a host name, *.domain, an IP address or a CIDR'), port: port.optional() }))
        .default([]),
    })
    .default({ allow: [] }),
  bases: z.strictObject({ allow: z.array(z.string().regex(baseNamePattern, 'a base name')).default(['debian-12']) }).default({ allow: ['debian-12'] }),
});
export type Policy = z.infer<typeof policySchema>;

/** A new home: an empty catalogue, no denied package, no extra port, no outbound destination, the built-in Debian base. */
export function defaultPolicy(): Policy {
  return policySchema.parse({});
}

export function policyFile(p: Paths): string {
  return join(p.home, 'policy.json');
}

/** A policy from parsed JSON; the error names the field (`datasets[0].maxBytes`) and the file it came from, if any. */
export function parsePolicy(value: unknown, file?: string): Policy {
  const r = policySchema.safeParse(value);
  if (r.success) return r.data;
  throw firstIssueError(r.error, { file });
}

/** The policy in force: the file if there is one, else the safe default. */
export async function loadPolicy(file: string): Promise<Policy> {
  const raw = await readOptionalJsonFile(file);
  return raw === undefined ? defaultPolicy() : parsePolicy(raw, file);
}

/** Written whole and renamed into place, so a reader never sees half a policy. */
export async function savePolicy(file: string, policy: Policy): Promise<void> {
  const checked = parsePolicy(policy);
  await writePrivateFile(file, `${JSON.stringify(checked, null, 2)}\n`);
}

/** Where a long-lived process reads the policy: re-read when the file changes, so an edit applies to the next request. */
export type PolicySource = () => Promise<Policy>;

export function policySource(file: string): PolicySource {
  const cache = new FileIdentityCache<Policy>(1);
  return () => cache.get(file, () => loadPolicy(file));
}
