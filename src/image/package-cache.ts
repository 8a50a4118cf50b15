import { createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { sha256File } from '../core/digest.js';
import { run } from '../core/exec.js';
import type { GuestBind, ImageSession } from './session.js';

/**
 * The host's package cache (apt's downloads and lists), shared by every build of a
 * distribution, so no build fetches twice and nothing fetched lands in a layer. A guest may be
 * hostile (an imported base, a package script), so it never writes there: it sees the cache
 * through an overlay whose writes stay in its own session. After a build, only what the host
 * verified itself is promoted into the shared cache:
 *   - an InRelease whose signature gpgv accepts with Debian's archive keyring (on the host) and
 *     whose Date is not older than the one it replaces (no replay of an old, signed index);
 *   - an index file (Packages, Translation…) whose sha256 and size an effective InRelease lists;
 *   - a .deb whose sha256 a promoted Packages file lists, under the name apt gives that package.
 * Everything else the guest wrote is dropped with the session. Guests of other distributions
 * (no Debian signature) simply get no shared cache.
 */
export const debianKeyring = '/usr/share/keyrings/debian-archive-keyring.gpg';

const listsGuest = '/var/lib/apt/lists';
const archivesGuest = '/var/cache/apt/archives';

/** apt's working files: never shared (each build has its own in its overlay). */
const aptOwn = new Set(['lock', 'partial', 'auxfiles']);

export async function packageCacheBinds(cacheDir: string): Promise<GuestBind[]> {
  const lists = join(cacheDir, 'lists');
  const archives = join(cacheDir, 'archives');
  await mkdir(lists, { recursive: true });
  await mkdir(archives, { recursive: true });
  // Left by versions that bound the cache writable; apt makes its own in the overlay.
  for (const d of [lists, archives]) for (const name of aptOwn) await rm(join(d, name), { recursive: true, force: true });
  return [
    { host: archives, guest: archivesGuest, writable: true },
    { host: lists, guest: listsGuest, writable: true },
  ];
}

export interface PromoteReport {
  promoted: string[];
  refused: string[];
}

interface Release {
  date: number;
  /** index path as apt names the list file (dists_bookworm_main_binary-amd64_Packages) → sha256 and size */
  files: Map<string, { sha256: string; size: number }>;
}

/** gpgv's view of an InRelease: the signed text only, or undefined when no good signature. */
async function verifiedRelease(file: string, keyring: string, prefix: string, scratch: string, signal?: AbortSignal): Promise<Release | undefined> {
  const out = join(scratch, `release-${randomBytes(4).toString('hex')}`);
  try {
    const r = await run('gpgv', ['--quiet', '--keyring', keyring, '--output', out, file], { allowFailure: true, timeoutMs: 60_000, ...(signal ? { signal } : {}) });
    if (r.exitCode !== 0) return undefined;
    const release: Release = { date: Number.NaN, files: new Map() };
    let section = '';
    for await (const line of createInterface({ input: createReadStream(out) })) {
      if (!line.startsWith(' ')) {
        section = line.split(':')[0] ?? '';
        if (section === 'Date') release.date = Date.parse(line.slice('Date:'.length).trim());
        continue;
      }
      if (section !== 'SHA256') continue;
      const [sha256, size, path] = line.trim().split(/\s+/);
      if (sha256 && size && path && /^[0-9a-f]{64}$/.test(sha256)) release.files.set(`${prefix}${path.replace(/\//g, '_')}`, { sha256, size: Number(size) });
    }
    return Number.isNaN(release.date) ? undefined : release;
  } finally {
    await rm(out, { force: true });
  }
}

async function regularFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files: string[] = [];
  for (const name of names) if (!aptOwn.has(name) && (await lstat(join(dir, name))).isFile()) files.push(name);
  return files.sort();
}

/** Copy, then rename: a reader of the shared cache sees the old file or the whole new one. */
async function promote(from: string, toDir: string, name: string): Promise<void> {
  const tmp = join(toDir, `.promote-${randomBytes(6).toString('hex')}`);
  try {
    await copyFile(from, tmp);
    await rename(tmp, join(toDir, name));
  } finally {
    await rm(tmp, { force: true });
  }
}

/** apt's name for a downloaded package: the epoch's colon is quoted. */
function aptArchiveName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}

/** sha256 → the names apt may give that .deb, for the hashes wanted, from the Packages files. */
async function packagesListing(listsDir: string, wanted: Set<string>): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>();
  for (const name of await regularFiles(listsDir)) {
    if (!name.endsWith('_Packages')) continue;
    let stanza: Record<string, string> = {};
    const flush = (): void => {
      const h = stanza['SHA256'];
      if (h && wanted.has(h) && stanza['Package'] && stanza['Version'] && stanza['Architecture']) {
        const names = found.get(h) ?? new Set<string>();
        names.add(aptArchiveName(stanza['Package'], stanza['Version'], stanza['Architecture']));
        found.set(h, names);
      }
      stanza = {};
    };
    for await (const line of createInterface({ input: createReadStream(join(listsDir, name)) })) {
      if (line === '') flush();
      else if (/^(Package|Version|Architecture|SHA256): /.test(line)) {
        const i = line.indexOf(': ');
        stanza[line.slice(0, i)] = line.slice(i + 2).trim();
      }
    }
    flush();
  }
  return found;
}

/**
 * Moves into the shared cache what this session's guest fetched and the host could verify.
 * Call after apt ran through `packageCacheBinds`; nothing is promoted from a backend that
 * cannot bind host folders.
 */
export async function promoteVerifiedPackages(options: { session: ImageSession; cacheDir: string; keyring?: string; signal?: AbortSignal }): Promise<PromoteReport> {
  const report: PromoteReport = { promoted: [], refused: [] };
  const keyring = options.keyring ?? debianKeyring;
  const sharedLists = join(options.cacheDir, 'lists');
  const sharedArchives = join(options.cacheDir, 'archives');
  const scratch = join(options.cacheDir, '.verify');
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  const upperLists = options.session.bindWrites(listsGuest);
  const upperArchives = options.session.bindWrites(archivesGuest);

  if (upperLists) {
    const names = await regularFiles(upperLists);
    // The releases in effect after promotion: a verified new one, else the shared one.
    const releases = new Map<string, Release>();
    for (const name of [...new Set([...names, ...(await regularFiles(sharedLists))])].filter((n) => n.endsWith('_InRelease'))) {
      const prefix = name.slice(0, -'InRelease'.length);
      const sharedPath = join(sharedLists, name);
      const shared = (await lstat(sharedPath).catch(() => undefined)) ? await verifiedRelease(sharedPath, keyring, prefix, scratch, options.signal) : undefined;
      if (names.includes(name)) {
        const fresh = await verifiedRelease(join(upperLists, name), keyring, prefix, scratch, options.signal);
        if (fresh && (!shared || fresh.date >= shared.date)) {
          await promote(join(upperLists, name), sharedLists, name);
          report.promoted.push(`lists/${name}`);
          releases.set(prefix, fresh);
          continue;
        }
        report.refused.push(`lists/${name}`);
      }
      if (shared) releases.set(prefix, shared);
    }
    for (const name of names) {
      if (name.endsWith('_InRelease')) continue;
      const prefix = [...releases.keys()].find((p) => name.startsWith(p));
      const expected = prefix ? releases.get(prefix)!.files.get(name) : undefined;
      const path = join(upperLists, name);
      if (expected && (await lstat(path)).size === expected.size && (await sha256File(path, options.signal)) === `sha256:${expected.sha256}`) {
        await promote(path, sharedLists, name);
        report.promoted.push(`lists/${name}`);
      } else report.refused.push(`lists/${name}`);
    }
  }

  if (upperArchives) {
    const debs = (await regularFiles(upperArchives)).filter((n) => n.endsWith('.deb'));
    const hashes = new Map<string, string>();
    for (const name of debs) hashes.set(name, (await sha256File(join(upperArchives, name), options.signal)).slice('sha256:'.length));
    // Only Packages files that were verified themselves: the shared lists, after promotion.
    const listing = debs.length ? await packagesListing(sharedLists, new Set(hashes.values())) : new Map<string, Set<string>>();
    for (const name of debs) {
      if (listing.get(hashes.get(name)!)?.has(name)) {
        await promote(join(upperArchives, name), sharedArchives, name);
        report.promoted.push(`archives/${name}`);
      } else report.refused.push(`archives/${name}`);
    }
  }
  return report;
}
