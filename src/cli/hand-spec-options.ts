import type { Command } from 'commander';
import { ValidationError } from '../core/errors.js';
import type { HandVectorInput } from '../usage-vector/hand-vector.js';

/** The flags of a usage vector written on the command line (`personalize`, `vector new`). */
export interface HandSpecFlags {
  packages?: string;
  vcpus?: string;
  memory?: string;
  disk?: string;
  ports?: string;
  service?: string[];
}

export function addHandSpecOptions(cmd: Command): Command {
  return cmd
    .option('--packages <names>', 'packages to install, comma-separated (e.g. redis-server,git)')
    .option('--vcpus <n>', 'vCPUs')
    .option('--memory <size>', 'memory: 4GiB, 512MiB (a bare number is MiB)')
    .option('--disk <size>', 'disk: 10GiB (a bare number is GiB)')
    .option('--ports <ports>', 'inbound ports to open, comma-separated: 22,6379,53/udp')
    .option('--service <name...>', 'services to enable and tune (e.g. redis); repeat or comma-separate');
}

export function hasHandSpec(f: HandSpecFlags): boolean {
  return [f.packages, f.vcpus, f.memory, f.disk, f.ports, f.service].some((x) => x !== undefined);
}

const units: Record<string, number> = { b: 1, k: 1024, kib: 1024, kb: 1000, m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3, t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4 };

/** `4GiB`, `512M`, `1.5G` in bytes; a bare number is in `bareUnit`. */
export function parseByteSize(text: string, field: string, bareUnit: 'mib' | 'gib'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  const unit = m ? (m[2] ? units[m[2].toLowerCase()] : units[bareUnit]) : undefined;
  if (!m || unit === undefined) throw new ValidationError(field, `${JSON.stringify(text)} is not a size; write e.g. 4GiB, 512MiB or 10G`);
  return Number(m[1]) * unit;
}

const list = (text: string | undefined): string[] => (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** The flags over a (possibly empty) hand-written vector: flags win, field by field. */
export function handSpecFromFlags(f: HandSpecFlags, base: Record<string, unknown> = {}): HandVectorInput {
  const out = { ...base } as Record<string, unknown>;
  const resources = { ...((base['resources'] as Record<string, unknown> | undefined) ?? {}) };
  if (f.vcpus !== undefined) {
    const n = Number(f.vcpus);
    if (!Number.isInteger(n) || n < 1) throw new ValidationError('--vcpus', 'a whole number of vCPUs, at least 1');
    resources['vcpus'] = n;
  }
  if (f.memory !== undefined) resources['memoryMiB'] = Math.round(parseByteSize(f.memory, '--memory', 'mib') / 1024 ** 2);
  if (f.disk !== undefined) resources['diskGiB'] = parseByteSize(f.disk, '--disk', 'gib') / 1024 ** 3;
  if (Object.keys(resources).length) out['resources'] = resources;
  if (f.packages !== undefined) out['software'] = list(f.packages).map((name) => ({ name }));
  if (f.service !== undefined) out['services'] = f.service.flatMap((s) => list(s)).map((name) => ({ name }));
  if (f.ports !== undefined) {
    const inbound = list(f.ports).map((p) => {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(p);
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new ValidationError('--ports', `${JSON.stringify(p)} is not a port; write e.g. 22,6379,53/udp`);
      return { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
    });
    out['network'] = { ...((base['network'] as Record<string, unknown> | undefined) ?? {}), inbound };
  }
  return out as HandVectorInput;
}
