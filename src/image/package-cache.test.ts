import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import type { BaseImage } from './bases/build.js';
import { isMountBackendUsable, withImageSession } from './open.js';
import { packageCacheBinds, promoteVerifiedPackages } from './package-cache.js';
import { createOverlay } from './qemu-img.js';

/**
 * The shared package cache is read by every build: a hostile guest must not be able to plant
 * anything in it. Guests write into overlays of their own; only what the host verified
 * (Debian's signature, the hashes it signs) is promoted.
 */
let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;
let cache: string;
const skip = !(await isMountBackendUsable()) && 'binds need the mount backend';

before(async () => {
  if (skip) return;
  base = await debianBase();
  work = await scratchDir();
  cache = join(work.dir, 'cache', 'debian-12');
});

after(async () => {
  await work?.remove();
});

async function digestTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sub of ['archives', 'lists']) {
    for (const name of (await readdir(join(dir, sub)).catch(() => [] as string[])).sort()) {
      out[`${sub}/${name}`] = createHash('sha256').update(await readFile(join(dir, sub, name))).digest('hex');
    }
  }
  return out;
}

async function build<T>(name: string, work_: (s: Parameters<Parameters<typeof withImageSession<T>>[2]>[0]) => Promise<T>): Promise<T> {
  const overlay = join(work.dir, `${name}.qcow2`);
  await createOverlay(base.path, overlay);
  return withImageSession(overlay, { runtimeDir: testPaths().runtime }, work_);
}

test('a genuine apt download is verified on the host and promoted; the next build finds it', { skip }, async () => {
  const binds = await packageCacheBinds(cache);
  const report = await build('genuine', async (s) => {
    await s.exec(['apt-get', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', 'update', '-q'], { binds, network: true, timeoutMs: 900_000 });
    await s.exec(['apt-get', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', 'install', '-d', '-y', '-q', '--no-install-recommends', 'hello'], { binds, network: true, timeoutMs: 900_000 });
    return promoteVerifiedPackages({ session: s, cacheDir: cache });
  });
  assert.ok(report.promoted.includes('lists/deb.debian.org_debian_dists_bookworm_InRelease'), JSON.stringify(report));
  assert.ok(report.promoted.includes('lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), JSON.stringify(report));
  const hello = report.promoted.find((p) => /^archives\/hello_.*_amd64\.deb$/.test(p));
  assert.ok(hello, JSON.stringify(report));
  assert.deepEqual(report.refused, []);
  // The next build installs from the shared cache without downloading it again.
  await build('next', async (s) => {
    const r = await s.exec(['apt-get', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', 'install', '-y', '-q', '--no-install-recommends', 'hello'], {
      binds: await packageCacheBinds(cache),
      network: true,
      timeoutMs: 900_000,
    });
    assert.match(r.stdout, /Need to get 0 B/);
    assert.match((await s.exec(['hello'])).stdout, /Hello, world!/);
  });
});

test("a hostile build that writes into the cache leaves the next build's cache unchanged", { skip }, async () => {
  await packageCacheBinds(cache);
  const before = await digestTree(cache);
  const listName = Object.keys(before).find((n) => n.endsWith('_main_binary-amd64_Packages') && n.includes('_bookworm_'));
  const debName = Object.keys(before).find((n) => n.startsWith('archives/hello_'));
  assert.ok(listName && debName, 'the first test filled the cache');
  const hostile = [
    // A trojaned package under the genuine name, a new one, a forged index and a forged signature.
    // (Files the host owns cannot be written in place by guest root; replacing them works.)
    `rm /var/cache/apt/${debName} && echo trojan > /var/cache/apt/${debName}`,
    'echo trojan > /var/cache/apt/archives/openssh-server_1%3a9.9_amd64.deb',
    `cp /var/lib/apt/${listName} /root/list && rm /var/lib/apt/${listName} && cp /root/list /var/lib/apt/${listName}`,
    `printf 'Package: openssh-server\\nVersion: 1:9.9\\nArchitecture: amd64\\nSHA256: %s\\n\\n' "$(sha256sum /var/cache/apt/archives/openssh-server_1%3a9.9_amd64.deb | cut -d' ' -f1)" >> /var/lib/apt/${listName}`,
    'rm -f /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease',
    "printf -- '-----BEGIN PGP SIGNED MESSAGE-----\\nHash: SHA256\\n\\nDate: Fri, 01 Jan 2100 00:00:00 UTC\\nSHA256:\\n 00 1 main/binary-amd64/Packages\\n' > /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
    'ln -s /etc/shadow /var/lib/apt/lists/link_Packages',
    'mkdir /var/cache/apt/archives/sub && echo x > /var/cache/apt/archives/sub/x.deb',
  ].join(' && ');
  const report = await build('hostile', async (s) => {
    await s.exec(['sh', '-c', hostile], { binds: await packageCacheBinds(cache) });
    return promoteVerifiedPackages({ session: s, cacheDir: cache });
  });
  assert.deepEqual(report.promoted, []);
  assert.ok(report.refused.includes(debName) && report.refused.includes(listName) && report.refused.includes('lists/deb.debian.org_debian_dists_bookworm_InRelease'), JSON.stringify(report));
  assert.deepEqual(await digestTree(cache), before, 'the shared cache is byte for byte what it was');
  // The next build sees the genuine files, not the hostile build's.
  await build('after-hostile', async (s) => {
    const r = await s.exec(['sh', '-c', `sha256sum /var/cache/apt/${debName}; ls /var/cache/apt/archives`], { binds: await packageCacheBinds(cache) });
    assert.ok(r.stdout.startsWith(before[debName]!), r.stdout);
    assert.doesNotMatch(r.stdout, /openssh-server|sub/);
  });
});

test('a cache folder made writable by an older version loses its apt working files', { skip }, async () => {
  const old = join(work.dir, 'old-cache');
  await mkdir(join(old, 'lists', 'partial'), { recursive: true });
  await writeFile(join(old, 'lists', 'lock'), '');
  await packageCacheBinds(old);
  assert.deepEqual(await readdir(join(old, 'lists')), []);
});

test('apt installs in the sandbox keep owners as dpkg sets them: root:root is 0:0 on disk, a user a package script makes owns its folders', { skip }, async () => {
  await build('owners', async (s) => {
    const binds = await packageCacheBinds(cache);
    await s.exec(['apt-get', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', 'update', '-q'], { binds, network: true, timeoutMs: 900_000 });
    await s.exec(['apt-get', '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=', 'install', '-y', '-q', '--no-install-recommends', 'nginx', 'redis-server'], { binds, network: true, timeoutMs: 900_000 });
    assert.match((await s.exec(['dpkg', '-l', 'nginx', 'redis-server'])).stdout, /^ii\s+nginx\s[\s\S]*^ii\s+redis-server\s/m);
    // Read from the disk itself (the mount backend's view), not through the sandbox's mapping.
    const conf = await s.stat('/etc/nginx/nginx.conf');
    assert.deepEqual([conf?.uid, conf?.gid], [0, 0]);
    const logs = await s.stat('/var/log/nginx');
    assert.deepEqual([logs?.uid, logs?.gid], [0, 4], 'root:adm');
    const passwd = (await s.readFile('/etc/passwd')).toString();
    const redis = /^redis:x:(\d+):(\d+):/m.exec(passwd);
    assert.ok(redis, 'the redis user made by its postinst');
    const lib = await s.stat('/var/lib/redis');
    assert.deepEqual([lib?.uid, lib?.gid], [Number(redis[1]), Number(redis[2])]);
    assert.ok(Number(redis[1]) > 0 && Number(redis[1]) < 65536);
    return promoteVerifiedPackages({ session: s, cacheDir: cache });
  });
});
