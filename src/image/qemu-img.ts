import { run } from '../core/exec.js';
import { ValidationError } from '../core/errors.js';

/**
 * Typed wrapper over qemu-img. Every call passes an argument vector (no shell); a failure
 * throws ExternalToolError carrying qemu-img's own message. Formats are always given
 * explicitly, because letting qemu probe the format of an untrusted image is unsafe (a raw
 * image can pretend to be qcow2 with a backing file pointing anywhere on the host).
 */
export const imageFormats = ['qcow2', 'raw'] as const;
export type ImageFormat = (typeof imageFormats)[number];

export interface ImageInfo {
  filename: string;
  format: ImageFormat;
  virtualSize: number;
  actualSize: number;
  clusterSize?: number;
  backingFile?: string;
  fullBackingFile?: string;
  backingFormat?: string;
  dirty: boolean;
}

interface RawInfo {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag'?: boolean;
}

function toInfo(raw: RawInfo): ImageInfo {
  const info: ImageInfo = {
    filename: raw.filename,
    format: raw.format as ImageFormat,
    virtualSize: raw['virtual-size'],
    actualSize: raw['actual-size'] ?? 0,
    dirty: raw['dirty-flag'] ?? false,
  };
  if (raw['cluster-size'] !== undefined) info.clusterSize = raw['cluster-size'];
  if (raw['backing-filename'] !== undefined) info.backingFile = raw['backing-filename'];
  if (raw['full-backing-filename'] !== undefined) info.fullBackingFile = raw['full-backing-filename'];
  if (raw['backing-filename-format'] !== undefined) info.backingFormat = raw['backing-filename-format'];
  return info;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

async function qemuImg(args: string[], options: CallOptions = {}): Promise<string> {
  const r = await run('qemu-img', args, { signal: options.signal, timeoutMs: options.timeoutMs });
  return r.stdout;
}

/** Reads the first bytes to tell qcow2 from raw, without asking qemu to probe. */
export async function detectFormat(path: string): Promise<ImageFormat> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

export async function info(path: string, options: CallOptions & { format?: ImageFormat } = {}): Promise<ImageInfo> {
  const format = options.format ?? (await detectFormat(path));
  return toInfo(JSON.parse(await qemuImg(['info', '--output=json', '-f', format, path], options)) as RawInfo);
}

/** The image and every backing file beneath it, top first. */
export async function backingChain(path: string, options: CallOptions & { format?: ImageFormat } = {}): Promise<ImageInfo[]> {
  const format = options.format ?? (await detectFormat(path));
  const out = JSON.parse(await qemuImg(['info', '--output=json', '--backing-chain', '-f', format, path], options)) as RawInfo[];
  return out.map(toInfo);
}

export async function create(path: string, sizeBytes: number, options: CallOptions & { format?: ImageFormat } = {}): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new ValidationError('size', `must be a positive number of bytes, got ${sizeBytes}`);
  await qemuImg(['create', '-q', '-f', options.format ?? 'qcow2', path, String(sizeBytes)], options);
}

/** A qcow2 overlay whose backing file is `backing`: writes land in the overlay only. */
export async function createOverlay(
  backing: string,
  path: string,
  options: CallOptions & { backingFormat?: ImageFormat; sizeBytes?: number } = {},
): Promise<void> {
  const backingFormat = options.backingFormat ?? (await detectFormat(backing));
  const args = ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, path];
  if (options.sizeBytes !== undefined) args.push(String(options.sizeBytes));
  await qemuImg(args, options);
}

export async function convert(
  source: string,
  target: string,
  options: CallOptions & { sourceFormat?: ImageFormat; targetFormat?: ImageFormat; compress?: boolean } = {},
): Promise<void> {
  const args = ['convert', '-q', '-f', options.sourceFormat ?? (await detectFormat(source)), '-O', options.targetFormat ?? 'qcow2'];
  if (options.compress) args.push('-c');
  args.push(source, target);
  await qemuImg(args, options);
}

/** Grows (or, with shrink, shrinks) the virtual disk. The filesystem inside is not touched. */
export async function resize(path: string, sizeBytes: number, options: CallOptions & { shrink?: boolean } = {}): Promise<void> {
  const args = ['resize', '-q', '-f', await detectFormat(path)];
  if (options.shrink) args.push('--shrink');
  args.push(path, String(sizeBytes));
  await qemuImg(args, options);
}

export interface Measure {
  required: number;
  fullyAllocated: number;
}

export async function measure(path: string, options: CallOptions & { targetFormat?: ImageFormat } = {}): Promise<Measure> {
  const out = JSON.parse(
    await qemuImg(['measure', '--output=json', '-f', await detectFormat(path), '-O', options.targetFormat ?? 'qcow2', path], options),
  ) as { required: number; 'fully-allocated': number };
  return { required: out.required, fullyAllocated: out['fully-allocated'] };
}

export interface CheckResult {
  clean: boolean;
  corruptions: number;
  leaks: number;
  checkErrors: number;
}

/** qemu-img check; it exits non-zero on corruption, so the result is read from JSON instead. */
export async function check(path: string, options: CallOptions = {}): Promise<CheckResult> {
  const r = await run('qemu-img', ['check', '--output=json', '-f', 'qcow2', path], { ...options, allowFailure: true });
  if (!r.stdout.trim()) throw new ValidationError(path, `qemu-img check could not read the image: ${r.stderr.trim()}`);
  const out = JSON.parse(r.stdout) as { corruptions?: number; leaks?: number; 'check-errors'?: number };
  const result = { corruptions: out.corruptions ?? 0, leaks: out.leaks ?? 0, checkErrors: out['check-errors'] ?? 0 };
  return { ...result, clean: result.corruptions === 0 && result.leaks === 0 && result.checkErrors === 0 };
}

/** Writes the overlay's data down into its backing file. */
export async function commit(path: string, options: CallOptions = {}): Promise<void> {
  await qemuImg(['commit', '-q', '-f', 'qcow2', path], options);
}

/**
 * Points an overlay at another backing file. `unsafe` only rewrites the header (the new
 * backing must hold the same data, e.g. the same layer at a new path).
 */
export async function rebase(path: string, backing: string, options: CallOptions & { unsafe?: boolean; backingFormat?: ImageFormat } = {}): Promise<void> {
  const args = ['rebase', '-q', '-f', 'qcow2', '-b', backing, '-F', options.backingFormat ?? 'qcow2'];
  if (options.unsafe) args.push('-u');
  args.push(path);
  await qemuImg(args, options);
}
