import { basename } from 'node:path';
import type { DiskLayout } from './partitions.js';
import { backingChain, type ImageInfo } from './qemu-img.js';
import type { FilesystemUsage, ImageSession } from './session.js';

/** What we know about an image: the facts pipeline modules plan against. */
export interface ImageFacts {
  image: string;
  format: string;
  virtualSizeBytes: number;
  actualSizeBytes: number;
  backingChain: string[];
  os: { id: string; versionId?: string; codename?: string; prettyName?: string; idLike?: string[] };
  architecture: string;
  disk: DiskLayout & { rootPartition: number };
  rootFilesystem: FilesystemUsage;
  packages: InstalledPackage[];
  services: string[];
}

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    out[m[1]!] = v;
  }
  return out;
}

export async function readOsRelease(session: ImageSession): Promise<Record<string, string>> {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    if ((await session.stat(p))?.type === 'file') return parseOsRelease((await session.readFile(p)).toString('utf8'));
  }
  return {};
}

/** Installed packages from dpkg's own database, read as a file (no command run needed). */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\n+/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    if (!name || !/ installed$/.test(field('Status') ?? '')) continue;
    out.push({ name, version: field('Version') ?? '', architecture: field('Architecture') ?? '' });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function listInstalledPackages(session: ImageSession): Promise<InstalledPackage[]> {
  if ((await session.stat('/var/lib/dpkg/status'))?.type !== 'file') return [];
  return parseDpkgStatus((await session.readFile('/var/lib/dpkg/status')).toString('utf8'));
}

const elfMachines: Record<number, string> = { 0x3e: 'amd64', 0xb7: 'arm64', 0x03: 'i386', 0x28: 'armhf', 0xf3: 'riscv64', 0x15: 'ppc64el', 0x16: 's390x' };

/** The guest's architecture from the ELF header of its shell, which every Linux guest has. */
export async function readArchitecture(session: ImageSession): Promise<string> {
  for (const p of ['/bin/sh', '/usr/bin/sh', '/bin/busybox']) {
    if ((await session.stat(p))?.type !== 'file') continue;
    const elf = await session.readFile(p);
    if (elf.length < 20 || elf.toString('latin1', 0, 4) !== '\x7fELF') continue;
    const machine = elf[5] === 2 ? elf.readUInt16BE(18) : elf.readUInt16LE(18);
    return elfMachines[machine] ?? `elf-${machine}`;
  }
  return 'unknown';
}

/** systemd units enabled for boot (the links under /etc/systemd/system/*.wants). */
export async function listEnabledServices(session: ImageSession): Promise<string[]> {
  const units = new Set<string>();
  if ((await session.stat('/etc/systemd/system'))?.type !== 'directory') return [];
  for (const dir of await session.list('/etc/systemd/system')) {
    if (dir.type !== 'directory' || !dir.name.endsWith('.wants')) continue;
    for (const unit of await session.list(`/etc/systemd/system/${dir.name}`)) if (unit.name.endsWith('.service')) units.add(unit.name);
  }
  return [...units].sort();
}

export async function gatherFacts(session: ImageSession): Promise<ImageFacts> {
  const chain: ImageInfo[] = await backingChain(session.imagePath);
  const top = chain[0]!;
  const os = await readOsRelease(session);
  return {
    image: session.imagePath,
    format: top.format,
    virtualSizeBytes: top.virtualSize,
    actualSizeBytes: chain.reduce((n, i) => n + i.actualSize, 0),
    backingChain: chain.slice(1).map((i) => i.filename),
    os: {
      id: os.ID ?? 'unknown',
      ...(os.VERSION_ID ? { versionId: os.VERSION_ID } : {}),
      ...(os.VERSION_CODENAME ? { codename: os.VERSION_CODENAME } : {}),
      ...(os.PRETTY_NAME ? { prettyName: os.PRETTY_NAME } : {}),
      ...(os.ID_LIKE ? { idLike: os.ID_LIKE.split(/\s+/) } : {}),
    },
    architecture: await readArchitecture(session),
    disk: await session.diskLayout(),
    rootFilesystem: await session.statfs('/'),
    packages: await listInstalledPackages(session),
    services: await listEnabledServices(session),
  };
}

/** One line for humans: "Debian GNU/Linux 12 (bookworm), amd64, 187 packages". */
export function summarizeFacts(f: ImageFacts): string {
  return `${f.os.prettyName ?? f.os.id}, ${f.architecture}, ${f.packages.length} packages (${basename(f.image)})`;
}
