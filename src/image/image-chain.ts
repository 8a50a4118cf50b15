import { open, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { paths } from '../core/config.js';
import { ValidationError } from '../core/errors.js';

/**
 * The one check every image open goes through (mount, guestfs, the offline grow, base import,
 * verify): an image file is untrusted, and its qcow2 header can make QEMU open any file on
 * this host as a backing file or external data file — or, through `json:` and other
 * pseudo-protocols, open sockets and network connections. The header is read here, by us, so
 * that QEMU never opens anything before it is checked. Refused:
 *   - an external data file (incompatible feature bit 2, or the data-file header extension);
 *   - a backing file named by a pseudo-protocol (`json:`, `nbd:`, `file:`…), or without an
 *     explicit backing format (QEMU would probe it, and a raw file can pretend to be qcow2);
 *   - a backing file outside the project's own layer chain: the bases, layer cache and registry
 *     of the home, or a file the caller vouches for (the chain it just built). A checkout
 *     (registry checkout, skopeo's OCI layout) names its layers relatively: a backing file in
 *     the folder of the image naming it, or below, is accepted when it is itself a qcow2 layer,
 *     never a raw file (a host secret is not a qcow2 image).
 * Every file of the chain is checked the same way, to the bottom.
 */
export interface ChainCheckOptions {
  /** Folders whose files may be backing files (realpaths compared). Default: the home's layer chain. */
  trustedDirs?: readonly string[];
  /** Files the caller made itself and vouches for as backing files; their own headers are still checked. */
  trustedFiles?: readonly string[];
  /** `base import`: no backing file at all. */
  standalone?: boolean;
  /** The name of the argument in errors (`IMAGE`, `FILE`). */
  field?: string;
}

const qcow2Magic = 0x514649fb;
const extBackingFormat = 0xe2792aca;
const extDataFile = 0x44415441;
const maxChain = 64;

export interface Qcow2Header {
  version: number;
  backingFile?: string;
  backingFormat?: string;
  dataFile?: string;
  externalData: boolean;
}

/**
 * The parts of a qcow2 header that name other files; undefined for a file that is not qcow2.
 * Every offset and length is the file's word: each must lie inside the file, or the header is
 * refused (a name read past the end would be zeros, not what QEMU reads, and an offset past
 * 2^53 is not even a position Node can seek to).
 */
export async function readQcow2Header(path: string): Promise<Qcow2Header | undefined> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const readExactly = async (length: number, at: number | bigint, what: string): Promise<Buffer> => {
      if (BigInt(at) + BigInt(length) > BigInt(size)) throw new ValidationError('IMAGE', `${path}: its qcow2 header puts the ${what} at byte ${at}, past the end of the file (${size} bytes)`);
      const data = Buffer.alloc(length);
      const { bytesRead } = await fh.read(data, 0, length, Number(at));
      if (bytesRead < length) throw new ValidationError('IMAGE', `${path}: the ${what} is cut short`);
      return data;
    };
    const head = Buffer.alloc(112);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < 72 || head.readUInt32BE(0) !== qcow2Magic) return undefined;
    const version = head.readUInt32BE(4);
    const backingOffset = head.readBigUInt64BE(8);
    const backingSize = head.readUInt32BE(16);
    const header: Qcow2Header = { version, externalData: false };
    if (backingOffset > 0n && backingSize > 0) {
      if (backingSize > 1023) throw new ValidationError('IMAGE', `${path}: a backing file name of ${backingSize} bytes (QEMU allows 1023)`);
      header.backingFile = (await readExactly(backingSize, backingOffset, 'backing file name')).toString('utf8');
    }
    let extOffset = 72;
    if (version >= 3) {
      header.externalData = (head.readBigUInt64BE(72) & 4n) !== 0n;
      extOffset = head.readUInt32BE(100);
    }
    // Header extensions: type, length, data padded to 8 bytes; type 0 ends them.
    const ext = Buffer.alloc(8);
    for (let i = 0; i < 1024; i++) {
      const r = await fh.read(ext, 0, 8, extOffset);
      if (r.bytesRead < 8) break;
      const type = ext.readUInt32BE(0);
      const length = ext.readUInt32BE(4);
      if (type === 0) break;
      if (length > 65536) throw new ValidationError('IMAGE', `${path}: a qcow2 header extension of ${length} bytes`);
      if (type === extBackingFormat || type === extDataFile) {
        const data = await readExactly(length, extOffset + 8, type === extBackingFormat ? 'backing format' : 'data file name');
        if (type === extBackingFormat) header.backingFormat = data.toString('utf8');
        else header.dataFile = data.toString('utf8');
      }
      extOffset += 8 + Math.ceil(length / 8) * 8;
    }
    return header;
  } finally {
    await fh.close();
  }
}

function within(path: string, dir: string): boolean {
  const r = relative(dir, path);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

/** The home's own layer chain: the folders a session's runtime folder (`<home>/run`) sits beside. */
export function homeLayerDirs(runtimeDir?: string): string[] {
  const homes = [paths()];
  if (runtimeDir && basename(runtimeDir) === 'run') homes.push(paths(dirname(resolve(runtimeDir))));
  return homes.flatMap((p) => [p.bases, p.layers, p.registry]);
}

async function realDirs(dirs: readonly string[]): Promise<string[]> {
  return (await Promise.all(dirs.map((d) => realpath(d).catch(() => undefined)))).filter((d): d is string => d !== undefined);
}

/**
 * The one rule on a qcow2's external data file: refused. It names a host file that QEMU (and
 * every export, checkout or VM of the image) would read and write as the disk's contents.
 */
export function refuseExternalData(header: Qcow2Header, field: string, file: string): void {
  if (header.externalData || header.dataFile !== undefined) {
    throw new ValidationError(field, `${file} uses an external data file${header.dataFile ? ` (${header.dataFile})` : ''}, which could make QEMU read or write any host file; use a standalone image (qemu-img convert flattens it)`);
  }
}

/** QEMU reads "proto:…" (json:, nbd:, file:, http:…) as a protocol, not a path: such a backing name is refused. */
export function refuseProtocolBacking(header: Qcow2Header, field: string, file: string): void {
  const name = header.backingFile;
  if (name !== undefined && (/^[^/]*:/.test(name) || name.includes('\0'))) {
    throw new ValidationError(field, `${file} names its backing file with a pseudo-protocol (${name.slice(0, 80)}); only plain files of this project's layer chain may back an image`);
  }
}

/** Throws ValidationError naming the file and why; returns the chain, top first. */
export async function assertSafeImageChain(image: string, options: ChainCheckOptions = {}): Promise<string[]> {
  const field = options.field ?? 'IMAGE';
  const trustedDirs = await realDirs(options.trustedDirs ?? homeLayerDirs());
  const trustedFiles = new Set(await realDirs(options.trustedFiles ?? []));
  const chain: string[] = [];
  let current = resolve(image);
  for (;;) {
    const real = await realpath(current).catch(() => {
      throw new ValidationError(field, `${current}: no such image`);
    });
    if (chain.includes(real)) throw new ValidationError(field, `${image}: its backing chain loops at ${current}`);
    chain.push(real);
    if (chain.length > maxChain) throw new ValidationError(field, `${image}: a backing chain deeper than ${maxChain}`);
    const header = await readQcow2Header(current);
    if (!header) return chain; // raw: no header, names nothing
    refuseExternalData(header, field, current);
    if (header.backingFile === undefined) return chain;
    const name = header.backingFile;
    if (options.standalone) throw new ValidationError(field, `${current} has a backing file (${name}); import a standalone image (qemu-img convert flattens it)`);
    refuseProtocolBacking(header, field, current);
    if (header.backingFormat !== 'qcow2' && header.backingFormat !== 'raw') {
      throw new ValidationError(field, `${current} names its backing file ${name} without a format (QEMU would probe it)${header.backingFormat ? `, or with ${header.backingFormat}` : ''}; only qcow2 or raw`);
    }
    // QEMU resolves a relative name against the folder of the image as it was named.
    const next = resolve(dirname(current), name);
    const nextReal = await realpath(next).catch(() => {
      throw new ValidationError(field, `${current} is backed by ${name}, which does not exist`);
    });
    if (!(await stat(nextReal)).isFile()) throw new ValidationError(field, `${current} is backed by ${name}, which is not a regular file`);
    const inProject = trustedFiles.has(nextReal) || trustedDirs.some((d) => within(nextReal, d));
    const isLayer = header.backingFormat === 'qcow2' && (await readQcow2Header(nextReal)) !== undefined;
    const beside = within(nextReal, await realpath(dirname(current)));
    if (!inProject && !(beside && isLayer)) {
      throw new ValidationError(
        field,
        `${current} is backed by ${nextReal}, outside this project's layer chain (bases, layer cache, registry of the home${isLayer ? '' : '; and not a qcow2 layer beside it'}); refusing to let an image header make QEMU read a host file`,
      );
    }
    current = next;
  }
}

