import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { sha256File } from '../core/digest.js';
import { kvmWorks } from '../image/kvm.js';
import { run } from '../core/exec.js';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { webDbVector } from '../../test/support/vectors.js';
import { cliPath } from '../../test/support/repo.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import type { BaseImage } from '../image/bases/build.js';
import { withImageSession } from '../image/open.js';
import { datasetManifestPath } from './modules/data/data-module.js';
import { parsePolicy, type Policy } from '../policy/policy.js';
import { personalize, type PersonalizeReport } from './personalize.js';
import { assemblePipeline } from './plan.js';

/**
 * The pipeline issue's acceptance scenario on the real Debian base: nginx, PostgreSQL, a 50 MB
 * dataset, ports 80 and 443, 4 vCPUs and 8 GiB — checked by opening the output independently.
 */
let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;
let dataset: string;
let datasetSha: string;
const p = testPaths();

/** The admin's dataset catalogue for these tests: the only host files a vector may name (by name). */
let policy: Policy;

async function build(vector: UsageVector, out: string): Promise<PersonalizeReport> {
  return personalize({ base, vector, pipeline: assemblePipeline(), outDir: join(work.dir, out), layersDir: p.layers, runtimeDir: p.runtime, packageCacheDir: p.packageCache, policy });
}

before(async () => {
  base = await debianBase();
  work = await scratchDir();
  dataset = join(work.dir, 'catalogue.bin');
  const hash = createHash('sha256');
  const out = createWriteStream(dataset);
  for (let i = 0; i < 50; i++) {
    const chunk = randomBytes(1024 * 1024);
    hash.update(chunk);
    out.write(chunk);
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error) => (e ? reject(e) : resolve())));
  datasetSha = hash.digest('hex');
  policy = parsePolicy({
    datasets: [
      { name: 'catalogue', kind: 'file', path: dataset, maxBytes: 64 * 1024 * 1024 },
      { name: 'other', kind: 'file', path: join(work.dir, 'other.bin'), maxBytes: 1024 },
    ],
  });
});

after(async () => {
  await work.remove();
});

let first: PersonalizeReport;

/**
 * The acceptance vector with two packages of low odds: sl chosen for the image by the software
 * set (installed whatever its probability), cowsay not (left out, below the threshold).
 */
function acceptanceVector(datasets: Parameters<typeof webDbVector>[0]): UsageVector {
  const v = webDbVector(datasets);
  return { ...v, software: [...v.software, { name: 'sl', probability: 0.2, inImageSet: true }, { name: 'cowsay', probability: 0.3 }] };
}

test('a web + database vector gives an image with everything prepared (opened independently)', async () => {
  first = await build(acceptanceVector([{ source: 'catalogue', destination: '/srv/data/catalogue.bin', sizeBytes: 50 * 1024 * 1024 }]), 'out1');
  assert.deepEqual(first.modules.map((m) => m.outcome).filter((o) => o !== 'built' && o !== 'reused'), ['spec-only', 'no-changes'], 'resources sets the VM spec only; the agent is not in an image without in-guest consent');
  await withImageSession(first.outputs.disk!, { runtimeDir: p.runtime, readOnly: true }, async (s) => {
    const dpkg = await s.exec(['dpkg-query', '-W', '-f', '${Package} ${Status}\\n', 'nginx', 'postgresql', 'nftables', 'sl']);
    for (const pkg of ['nginx', 'postgresql', 'nftables', 'sl']) assert.match(dpkg.stdout, new RegExp(`^${pkg} install ok installed$`, 'm'));
    // cowsay (p 0.3, not in the image set) is not installed: dpkg does not know it at all.
    const cowsay = await s.exec(['dpkg-query', '-W', '-f', '${Status}', 'cowsay'], { allowFailure: true });
    assert.ok(cowsay.exitCode !== 0 || !cowsay.stdout.includes('install ok installed'), `cowsay: ${cowsay.stdout}`);
    assert.match((await s.readFile('/etc/nginx/nginx.conf')).toString(), /^worker_processes 4;$/m);
    const pg = (await s.readFile('/etc/postgresql/15/main/conf.d/90-prescient-tuning.conf')).toString();
    assert.match(pg, /^shared_buffers = \d+kB$/m);
    assert.match(pg, /^max_connections = 30$/m);
    // PostgreSQL itself reads our file: ask it for the effective value.
    const shown = await s.exec(['/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/15/main', '-c', 'config_file=/etc/postgresql/15/main/postgresql.conf', '-C', 'max_connections'], { allowFailure: true, env: {} , timeoutMs: 60_000 });
    if (shown.exitCode === 0) assert.equal(shown.stdout.trim(), '30');
    assert.equal(await s.sha256('/srv/data/catalogue.bin'), datasetSha);
    const manifest = JSON.parse((await s.readFile(datasetManifestPath)).toString()) as { sha256: string; destination: string }[];
    assert.deepEqual(manifest.map((m) => [m.destination, m.sha256]), [['/srv/data/catalogue.bin', datasetSha]]);
    const nft = (await s.readFile('/etc/nftables.conf')).toString();
    // 443 is predicted, but no TLS site is prepared: closed rather than open with nothing behind it.
    assert.match(nft, /tcp dport \{ 22, 80 \} accept/);
    const check = await s.exec(['nft', '-c', '-f', '/etc/nftables.conf'], { allowFailure: true });
    assert.equal(check.exitCode, 0, `nft -c: ${check.stderr}`);
    const fs = await s.statfs('/');
    assert.ok(fs.sizeBytes > 7 * 1024 ** 3, `root filesystem is ${fs.sizeBytes} bytes`);
    assert.equal((await s.stat('/swapfile'))?.mode, 0o600);
    for (const unit of ['nginx.service', 'postgresql.service', 'nftables.service']) {
      const r = await s.exec(['systemctl', 'is-enabled', unit], { allowFailure: true });
      assert.equal(r.stdout.trim(), 'enabled', unit);
    }
  });
  const xml = await readFile(first.outputs.domainXml, 'utf8');
  assert.match(xml, /<vcpu placement='static'>4<\/vcpu>/);
  assert.match(xml, /<memory unit='MiB'>8192<\/memory>/);
  // The hypervisor can start it: the domain type is what the KVM probe found, and the guest
  // agent's channel is there because qemu-guest-agent is installed.
  assert.match(xml, new RegExp(`^<domain type='${(await kvmWorks()) ? 'kvm' : 'qemu'}'>`, 'm'));
  assert.match(xml, /org\.qemu\.guest_agent\.0/);
  const validate = await run('virt-xml-validate', [first.outputs.domainXml, 'domain'], { allowFailure: true });
  assert.equal(validate.exitCode, 0, validate.stderr + validate.stdout);
  const glance = JSON.parse(await readFile(first.outputs.glance, 'utf8')) as { attributes: Record<string, unknown>; properties: Record<string, unknown> };
  assert.equal(glance.attributes.min_ram, 8192);
  assert.equal(glance.properties.hw_cpu_cores, '4');
  assert.match(await readFile(join(first.outputs.seed, 'meta-data'), 'utf8'), /instance-id/);
});

test('the same vector again reuses every layer; a new dataset rebuilds only the data layer and sizing above it', async () => {
  const again = await build(acceptanceVector([{ source: 'catalogue', destination: '/srv/data/catalogue.bin', sizeBytes: 50 * 1024 * 1024 }]), 'out2');
  assert.deepEqual(again.modules.map((m) => [m.id, m.outcome]), first.modules.map((m) => [m.id, m.outcome === 'built' ? 'reused' : m.outcome]));
  assert.deepEqual(again.layers, first.layers);
  const other = join(work.dir, 'other.bin');
  // New on every run: a layer key names the dataset by content, and the test home's layer
  // cache outlives a run (CI machines are reused), so a fixed text would be found built.
  await writeFile(other, `another dataset ${randomBytes(8).toString('hex')}\n`);
  const changed = await build(acceptanceVector([{ source: 'other', destination: '/srv/data/other.bin', sizeBytes: 33 }]), 'out3');
  assert.deepEqual(
    changed.modules.map((m) => [m.id, m.outcome]),
    [['resources', 'spec-only'], ['software', 'reused'], ['services', 'reused'], ['network', 'reused'], ['data', 'built'], ['agent', 'no-changes'], ['sizing', 'built']],
  );
  assert.deepEqual(changed.layers.slice(0, -2), first.layers.slice(0, -2));
});

test('a sizes-only re-prediction rebuilds only the sizing layer, tuned for the new size', async () => {
  const vector = acceptanceVector([{ source: 'catalogue', destination: '/srv/data/catalogue.bin', sizeBytes: 50 * 1024 * 1024 }]);
  const resized = await build({ ...vector, resources: { ...vector.resources, vcpus: 2, memoryMiB: 4096, expectedP95MemoryMiB: 2000 } }, 'out-resized');
  // only sizing's Changes depend on vCPUs and memory (service tuning, swap); no other layer's key holds them
  assert.deepEqual(
    resized.modules.map((m) => [m.id, m.outcome]),
    [['resources', 'spec-only'], ['software', 'reused'], ['services', 'reused'], ['network', 'reused'], ['data', 'reused'], ['agent', 'no-changes'], ['sizing', 'built']],
  );
  assert.deepEqual(resized.layers.slice(0, -1), first.layers.slice(0, -1));
  assert.equal(resized.spec.vcpus, 2);
  assert.equal(resized.spec.memoryMiB, 4096);
  await withImageSession(resized.outputs.disk!, { runtimeDir: p.runtime, readOnly: true }, async (s) => {
    assert.match((await s.readFile('/etc/nginx/nginx.conf')).toString(), /^worker_processes 2;$/m);
    // a quarter of what PostgreSQL gets: (4096 - 256 reserved) / 2 memory-hungry… only PostgreSQL here
    const pg = (await s.readFile('/etc/postgresql/15/main/conf.d/90-prescient-tuning.conf')).toString();
    assert.match(pg, new RegExp(`^shared_buffers = ${Math.floor(((4096 - 256) / 4) * 1024)}kB$`, 'm'));
    assert.equal((await s.stat('/swapfile'))?.size, 2048 * 1024 * 1024);
    assert.equal(await s.sha256('/srv/data/catalogue.bin'), datasetSha);
  });
  assert.match(await readFile(resized.outputs.domainXml, 'utf8'), /<vcpu placement='static'>2<\/vcpu>/);
});

test('bad vectors are refused before any image is touched, naming the field', async () => {
  const good = JSON.parse(JSON.stringify(webDbVector([]))) as Record<string, any>;
  const cases: [string, (v: Record<string, any>) => void, RegExp][] = [
    ['unknown schema version', (v) => (v.schemaVersion = 'prescient.dev/usage-vector/v9'), /schemaVersion/],
    ['negative size', (v) => (v.resources.diskGiB = -5), /resources\.diskGiB/],
    ['shell metacharacters in a package', (v) => (v.software[0].name = 'nginx; rm -rf /'), /software\[0\]\.name/],
    ['destination outside the guest', (v) => v.datasets.push({ source: 'catalogue', destination: '../../etc', sizeBytes: 1, probability: 1 }), /datasets\[0\]\.destination/],
    // The admin policy holds for hand-made vectors: no host path as a dataset, no port no service or admin allows.
    ['a host path as a dataset', (v) => v.datasets.push({ source: '/etc/shadow', destination: '/srv/shadow', sizeBytes: 1, probability: 1 }), /datasets\[0\]\.source: not in the dataset catalogue/],
    ['a port no service or admin allows', (v) => v.network.inbound.push({ port: 23, protocol: 'tcp' }), /network\.inbound\[2\]: tcp\/23 /],
  ];
  const layersBefore = await readdir(p.layers);
  for (const [what, mutate, field] of cases) {
    const v = JSON.parse(JSON.stringify(good)) as Record<string, any>;
    mutate(v);
    const file = join(work.dir, 'bad.json');
    await writeFile(file, JSON.stringify(v));
    const out = join(work.dir, `bad-out-${what.replace(/\W/g, '')}`);
    const r = await promisify(execFile)(process.execPath, [cliPath, 'personalize', '--base', base.path, '--vector', file, '--out', out], { env: { ...process.env, PRESCIENT_HOME: p.home } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2, `${what}: exit code`);
    assert.match(r.stderr, field, what);
    await assert.rejects(readdir(out), `${what}: nothing written`);
  }
  assert.deepEqual(await readdir(p.layers), layersBefore);
});

test('a module that fails leaves no half-built layer and the base unchanged', async () => {
  const baseDigest = await sha256File(base.path);
  const vector = webDbVector([], { software: [{ name: 'prescient-no-such-package', probability: 1 }] });
  await assert.rejects(build(vector, 'out-fail'), /prescient-no-such-package/);
  const names = await readdir(p.layers);
  assert.deepEqual(names.filter((n) => n.startsWith('.tmp-') || n.startsWith('.lock-')), []);
  assert.deepEqual((await readdir(join(p.layers, 'sha256'))).filter((n) => !/^[a-f0-9]{64}$/.test(n)), [], 'only published layers in sha256/');
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const rec = JSON.parse(await readFile(join(p.layers, n), 'utf8')) as { changes: { packages?: string[] }[] };
    assert.ok(!JSON.stringify(rec.changes).includes('prescient-no-such-package'), `${n} holds the failed change`);
  }
  assert.equal(await sha256File(base.path), baseDigest);
});
