import { posix } from 'node:path';
import { AppError, ExternalToolError, ValidationError } from '../core/errors.js';
import { growRootFilesystem } from '../image/grow.js';
import { packageCacheBinds, promoteVerifiedPackages } from '../image/package-cache.js';
import type { GuestBind, ImageSession } from '../image/session.js';
import { describeChange, type Change } from './change.js';
import type { ResolvedSources } from './sources.js';

/**
 * Executes Changes. Disk-level changes (resize) act on the image file before it is opened;
 * everything else goes through an ImageSession; set-vm-spec has no effect on the disk at all
 * (it shaped the plan's VM spec already).
 */
export function needsImage(changes: readonly Change[]): boolean {
  return changes.some((c) => c.kind !== 'set-vm-spec');
}

export function needsSession(changes: readonly Change[]): boolean {
  return changes.some((c) => c.kind !== 'set-vm-spec' && c.kind !== 'resize-disk');
}

/** A change failed; says which one, and keeps the cause (the guest tool's own message). */
export class ChangeFailedError extends AppError {
  constructor(moduleId: string, index: number, change: Change, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(cause instanceof AppError ? cause.code : 'INTERNAL', `${moduleId}: ${describeChange(change)} failed: ${why}`, {
      cause,
      details: { module: moduleId, change: index },
    });
  }
}

export async function applyDiskChanges(
  imagePath: string,
  changes: readonly Change[],
  options: { rootPartition: number; runtimeDir: string; signal?: AbortSignal; trustedFiles?: readonly string[] },
): Promise<void> {
  for (const c of changes) {
    if (c.kind === 'resize-disk') await growRootFilesystem(imagePath, Math.round(c.sizeGiB * 1024 ** 3), options);
  }
}

interface ApplyState {
  /** Shared by every module of a build (personalize passes one), so apt-get update runs once. */
  apt: { updated: boolean };
  /** Host folders for apt's downloads and lists, seen by the guest (through overlays) while apt runs. */
  aptBinds: GuestBind[];
  /** apt ran in this session: what it fetched is checked for the shared cache at the end. */
  aptRan: boolean;
  /** The plan's datasets by catalogue name → the host files resolved when it was planned. */
  sources: ResolvedSources;
}

export async function applySessionChanges(
  session: ImageSession,
  moduleId: string,
  changes: readonly Change[],
  options: { signal?: AbortSignal; onChange?: (index: number, change: Change) => void; packageCacheDir?: string; aptState?: { updated: boolean }; sources?: ResolvedSources } = {},
): Promise<void> {
  const cache = session.canBindHostDirs ? options.packageCacheDir : undefined;
  // without the host cache the lists are removed from each layer, so each session updates again
  const state: ApplyState = { apt: cache && options.aptState ? options.aptState : { updated: false }, aptBinds: [], aptRan: false, sources: options.sources ?? new Map() };
  const updatedBefore = state.apt.updated;
  // Downloads and package lists live on the host, shared by every build of this distribution:
  // they never land in a layer, and the next build does not fetch them again. The guest sees
  // them through an overlay; only what the host verifies is kept (src/image/package-cache.ts).
  if (cache) state.aptBinds = await packageCacheBinds(cache);
  for (const [i, c] of changes.entries()) {
    if (c.kind === 'set-vm-spec' || c.kind === 'resize-disk') continue;
    options.signal?.throwIfAborted();
    options.onChange?.(i, c);
    try {
      await applyOne(session, c, state, options.signal);
    } catch (e) {
      throw new ChangeFailedError(moduleId, i, c, e);
    }
  }
  if (cache && state.aptRan) {
    const promoted = await promoteVerifiedPackages({ session, cacheDir: cache, ...(options.signal ? { signal: options.signal } : {}) });
    // Lists the host could not verify stay in this session: the next module updates again.
    if (promoted.refused.some((f) => f.startsWith('lists/'))) state.apt.updated = false;
  }
  // Package lists are large and stale by the next build: keep them out of the layer.
  if (state.apt.updated && !updatedBefore && !cache) await session.exec(['sh', '-c', 'apt-get clean && rm -rf /var/lib/apt/lists/*'], { timeoutMs: 120_000 });
}

const aptEnv = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none' };
/**
 * apt waits for a lock instead of failing (each build has its own in its overlay); apt's
 * binary caches (pkgcache.bin, ~80 MB, rebuilt after every update) are kept in memory, so
 * they never land in a layer.
 */
const aptOptions = ['-o', 'DPkg::Lock::Timeout=900', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache='];

async function applyOne(s: ImageSession, c: Change, state: ApplyState, signal?: AbortSignal): Promise<void> {
  const sig = signal ? { signal } : {};
  switch (c.kind) {
    case 'install-packages': {
      state.aptRan = true;
      if (!state.apt.updated) {
        await s.exec(['apt-get', ...aptOptions, 'update', '-q'], { env: aptEnv, timeoutMs: 15 * 60_000, binds: state.aptBinds, network: true, ...sig });
        state.apt.updated = true;
      }
      // Name the packages the archive does not have, rather than apt's first complaint: one
      // query for all of them, and one per package only when some are missing.
      const unknown: string[] = [];
      const all = await s.exec(['apt-cache', ...aptOptions.slice(2), 'show', '--no-all-versions', ...c.packages], { allowFailure: true, timeoutMs: 60_000, binds: state.aptBinds });
      for (const p of all.exitCode === 0 && !/unable to locate|no packages found/i.test(all.stderr) ? [] : c.packages) {
        const r = await s.exec(['apt-cache', ...aptOptions.slice(2), 'show', '--no-all-versions', p], { allowFailure: true, timeoutMs: 60_000, binds: state.aptBinds });
        if (r.exitCode !== 0 || !r.stdout.trim()) unknown.push(p);
      }
      if (unknown.length) throw new ValidationError('packages', `not available in the guest's package archive: ${unknown.join(', ')}`, { packages: unknown });
      await s.exec(
        ['apt-get', ...aptOptions, 'install', '-y', '-q', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...c.packages],
        { env: aptEnv, timeoutMs: 30 * 60_000, binds: state.aptBinds, network: true, ...sig },
      );
      return;
    }
    case 'write-file': {
      const dir = posix.dirname(c.path);
      if (!(await s.stat(dir))) await s.mkdir(dir, { parents: true });
      await s.writeFile(c.path, c.content, { ...(c.mode !== undefined ? { mode: c.mode } : {}), ...(c.uid !== undefined ? { uid: c.uid } : {}), ...(c.gid !== undefined ? { gid: c.gid } : {}) });
      return;
    }
    case 'ensure-line': {
      const existing = (await s.stat(c.path)) ? (await s.readFile(c.path)).toString('utf8') : '';
      if (existing.split('\n').some((l) => l === c.line)) return;
      await s.writeFile(c.path, `${existing}${existing && !existing.endsWith('\n') ? '\n' : ''}${c.line}\n`);
      return;
    }
    case 'enable-service':
    case 'disable-service':
      await s.exec(['systemctl', c.kind === 'enable-service' ? 'enable' : 'disable', c.unit], { timeoutMs: 60_000, ...sig });
      return;
    case 'create-swapfile':
      if (!(await s.stat(c.path))) {
        await s.exec(['fallocate', '-l', `${c.sizeMiB}M`, c.path], { timeoutMs: 120_000 });
        await s.chmod(c.path, 0o600);
        await s.exec(['mkswap', c.path], { timeoutMs: 60_000 });
      }
      await applyOne(s, { kind: 'ensure-line', path: '/etc/fstab', line: `${c.path} none swap sw 0 0` }, state, signal);
      return;
    case 'copy-data': {
      const source = state.sources.get(c.dataset);
      if (!source) throw new AppError('INTERNAL', `dataset ${c.dataset} was not resolved with the plan`);
      if (!(await s.stat(posix.dirname(c.destination)))) await s.mkdir(posix.dirname(c.destination), { parents: true });
      await s.copyIn(source.path, c.destination, { mode: c.mode, uid: c.uid, gid: c.gid, ...sig });
      const got = await s.sha256(c.destination);
      if (got !== c.sha256) throw new ExternalToolError('copy-data', [c.dataset], null, `checksum mismatch at ${c.destination}: expected ${c.sha256}, found ${got} (dataset ${c.dataset} changed while building?)`);
      return;
    }
    case 'run-command':
      await s.exec(c.argv, { timeoutMs: (c.timeoutSeconds ?? 600) * 1000, ...sig });
      return;
    case 'set-vm-spec':
    case 'resize-disk':
      return;
  }
}
