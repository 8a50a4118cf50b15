import type { Command } from 'commander';
import { ValidationError } from '../core/errors.js';
import { parseByteSize } from '../policy/byte-size.js';
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

/** `4GiB`, `512M`, `1.5G` in bytes (the policy's size rule); a bare number is in `bareUnit`. */
function sizeOf(text: string, field: string, bareUnit: 'MiB' | 'GiB'): number {
  const t = text.trim();
  return parseByteSize(/^\d+(?:\.\d+)?$/.test(t) ? `${t}${bareUnit}` : /^\d+(?:\.\d+)?[kmgt]$/i.test(t) ? `${t}iB` : t, field);
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
  if (f.memory !== undefined) resources['memoryMiB'] = Math.round(sizeOf(f.memory, '--memory', 'MiB') / 1024 ** 2);
  if (f.disk !== undefined) resources['diskGiB'] = sizeOf(f.disk, '--disk', 'GiB') / 1024 ** 3;
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
