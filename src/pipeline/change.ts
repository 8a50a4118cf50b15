import { z } from 'zod';
import { debianPackageNamePattern, guestPathPattern, serviceNamePattern } from '../contracts/usage-vector.js';

/**
 * A Change is one declarative edit that a module plans and an image backend applies. Changes
 * are data: they are shown by --plan, stored as provenance, and hashed into layer cache keys,
 * so two plans that would do the same thing have the same key.
 */
const guestPath = z.string().regex(guestPathPattern, 'must be an absolute, normalised guest path');
const mode = z.number().int().min(0).max(0o7777);
const id = z.number().int().min(0).max(2 ** 32 - 2);

export const vmSpecFieldsSchema = z.strictObject({
  vcpus: z.number().int().min(1).max(1024).optional(),
  memoryMiB: z.number().int().min(64).optional(),
  diskGiB: z.number().positive().optional(),
  swapMiB: z.number().int().nonnegative().optional(),
  hostname: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/).optional(),
});

export const changeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('install-packages'), packages: z.array(z.string().regex(debianPackageNamePattern)).min(1) }),
  z.strictObject({ kind: z.literal('write-file'), path: guestPath, content: z.string(), mode: mode.optional(), uid: id.optional(), gid: id.optional() }),
  /** Appends `line` to a file unless a line equal to it is already there. */
  z.strictObject({ kind: z.literal('ensure-line'), path: guestPath, line: z.string().regex(/^[^\n]*$/) }),
  z.strictObject({ kind: z.literal('enable-service'), unit: z.string().regex(serviceNamePattern) }),
  z.strictObject({ kind: z.literal('disable-service'), unit: z.string().regex(serviceNamePattern) }),
  /** Grows the virtual disk, the root partition and its filesystem to sizeGiB. Never shrinks. */
  z.strictObject({ kind: z.literal('resize-disk'), sizeGiB: z.number().positive() }),
  z.strictObject({ kind: z.literal('create-swapfile'), path: guestPath, sizeMiB: z.number().int().positive() }),
  /** Fields of the VM definition (libvirt XML, Glance properties), not of the disk. */
  z.strictObject({ kind: z.literal('set-vm-spec'), fields: vmSpecFieldsSchema }),
  /**
   * Streams a catalogued dataset into the guest; the copy must hash to sha256 or the module
   * fails. `dataset` is the catalogue's name for it (an entry, or entry/file below a folder
   * entry), never the host path: plans reach clients (the image's config, the request stream),
   * and the path is looked up only when the change is applied (pipeline/sources.ts).
   */
  z.strictObject({
    kind: z.literal('copy-data'),
    dataset: z.string().min(1),
    sha256: z.string().regex(/^[a-f0-9]{64}$/),
    sizeBytes: z.number().int().nonnegative(),
    destination: guestPath,
    mode,
    uid: id,
    gid: id,
  }),
  z.strictObject({ kind: z.literal('run-command'), argv: z.array(z.string()).min(1), timeoutSeconds: z.number().positive().optional() }),
]);

export type Change = z.infer<typeof changeSchema>;
export type ChangeKind = Change['kind'];
export type VmSpecFields = z.infer<typeof vmSpecFieldsSchema>;

/** One line for humans, as --plan and the report show it. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'install-packages':
      return `install ${c.packages.join(' ')}`;
    case 'write-file':
      return `write ${c.path} (${Buffer.byteLength(c.content)} bytes${c.mode !== undefined ? `, mode ${c.mode.toString(8)}` : ''})`;
    case 'ensure-line':
      return `ensure ${c.path} has: ${c.line}`;
    case 'enable-service':
      return `enable ${c.unit}`;
    case 'disable-service':
      return `disable ${c.unit}`;
    case 'resize-disk':
      return `grow the disk and root filesystem to ${c.sizeGiB} GiB`;
    case 'create-swapfile':
      return `swap file ${c.path} of ${c.sizeMiB} MiB`;
    case 'set-vm-spec':
      return `VM spec: ${Object.entries(c.fields).map(([k, v]) => `${k}=${v}`).join(', ')}`;
    case 'copy-data':
      return `copy dataset ${c.dataset} → ${c.destination} (${c.sizeBytes} bytes, sha256 ${c.sha256.slice(0, 12)}…)`;
    case 'run-command':
      return `run ${c.argv.join(' ')}`;
  }
}
