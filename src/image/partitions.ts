import { run } from '../core/exec.js';

/**
 * The partitions of a raw disk (or the whole file, for a bare filesystem image), with the
 * filesystem each holds. Probing reads only: sfdisk for the table, blkid -p (low-level probe,
 * no cache) for the filesystem type.
 */
export interface Partition {
  /** 1-based partition number; 0 for a bare filesystem that fills the disk. */
  number: number;
  offsetBytes: number;
  sizeBytes: number;
  partitionType?: string;
  filesystem?: string;
  label?: string;
  uuid?: string;
}

export interface DiskLayout {
  table: 'gpt' | 'dos' | 'none';
  partitions: Partition[];
}

interface SfdiskJson {
  partitiontable: {
    label: 'gpt' | 'dos';
    sectorsize?: number;
    partitions?: { node: string; start: number; size: number; type: string }[];
  };
}

async function probeFilesystem(file: string, offset: number, size: number): Promise<Pick<Partition, 'filesystem' | 'label' | 'uuid'>> {
  const r = await run('blkid', ['-p', '-o', 'export', '-O', String(offset), '-S', String(size), file], { allowFailure: true });
  const fields = Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const out: Pick<Partition, 'filesystem' | 'label' | 'uuid'> = {};
  if (fields.TYPE) out.filesystem = fields.TYPE;
  if (fields.LABEL) out.label = fields.LABEL;
  if (fields.UUID) out.uuid = fields.UUID;
  return out;
}

export async function readDiskLayout(rawFile: string, sizeBytes: number): Promise<DiskLayout> {
  const r = await run('sfdisk', ['-J', rawFile], { allowFailure: true });
  if (r.exitCode !== 0 || !r.stdout.trim()) {
    return { table: 'none', partitions: [{ number: 0, offsetBytes: 0, sizeBytes, ...(await probeFilesystem(rawFile, 0, sizeBytes)) }] };
  }
  const pt = (JSON.parse(r.stdout) as SfdiskJson).partitiontable;
  const sector = pt.sectorsize ?? 512;
  const partitions: Partition[] = [];
  for (const p of pt.partitions ?? []) {
    const number = Number(/(\d+)$/.exec(p.node)?.[1] ?? partitions.length + 1);
    const offsetBytes = p.start * sector;
    const size = p.size * sector;
    partitions.push({ number, offsetBytes, sizeBytes: size, partitionType: p.type, ...(await probeFilesystem(rawFile, offsetBytes, size)) });
  }
  return { table: pt.label, partitions };
}

/** Filesystems that can hold a Linux root. */
export const rootFilesystemTypes = ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs'] as const;

export function rootCandidates(layout: DiskLayout): Partition[] {
  // Largest first: the root is usually the biggest Linux partition, which saves probe mounts.
  return layout.partitions
    .filter((p) => p.filesystem !== undefined && (rootFilesystemTypes as readonly string[]).includes(p.filesystem))
    .sort((a, b) => b.sizeBytes - a.sizeBytes);
}
