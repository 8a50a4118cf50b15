import type { ImageFacts } from '../image/facts.js';
import type { VmSpecFields } from './change.js';

/** The machine an image is meant to run on; modules set its fields with set-vm-spec. */
export interface VmSpec {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  swapMiB: number;
  hostname: string;
}

/** Before any module: the base image's own disk size, and a small machine. */
export function initialVmSpec(facts: ImageFacts): VmSpec {
  return { vcpus: 1, memoryMiB: 1024, diskGiB: facts.virtualSizeBytes / 1024 ** 3, swapMiB: 0, hostname: 'prescient' };
}

export function withFields(spec: VmSpec, fields: VmSpecFields): VmSpec {
  const out = { ...spec };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
