import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonicalJson } from '../core/canonical-json.js';
import { paths } from '../core/config.js';
import { sha256Digest, sha256File } from '../core/digest.js';
import { run } from '../core/exec.js';
import { Grants } from '../grants/grants.js';
import type { BaseImage } from '../image/bases/build.js';
import { LayerCache } from '../pipeline/layer-cache.js';
import type { BaseRef, ModuleOutcome } from '../pipeline/personalize.js';
import { assemblePipeline, type AssembledModule } from '../pipeline/plan.js';
import { PipelineImageBuilder, type BuildInput } from '../workflow/image-builder.js';
import { sharedBaseResolver } from '../workflow/shared-base.js';
import { fileModule } from '../../test/support/file-module.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase } from '../../test/support/images.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { webDbVector } from '../../test/support/vectors.js';
import { basesRepository, layersRepository, openExternalRegistry, type ExternalRegistry } from './external-registry.js';
import { ociRegistryConfigSchema, parseRegistryConfig, registryConfigFromEnv } from './registry-config.js';
import { openRegistry, type Registry } from './registry.js';
import { hasDockerRegistry, startDockerRegistry, type RunningRegistry } from './testing/docker-registry.js';

const skip = !(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)';

/**
 * Issue 17 item 4: two homes (standing in for the API server's machine and a worker's) share
 * Debian's docker-registry with `auth: token` trusting the first home's certificate. The first
 * builds and registers an image; its layers and version go to the registry. The second, which
 * has only the base, builds a derived version: the layer it lacks is fetched, not built, and it
 * builds one more on top. Two small file-writing modules keep the builds quick (no apt).
 */
const stamp = randomBytes(8).toString('hex');
const motd = fileModule({ id: 'motd', path: '/etc/motd', content: (v) => `hello ${v.subject.clientId} ${stamp}\n`, mode: 0o644 });
const marker = fileModule({ id: 'marker', path: '/etc/prescient-marker', content: `${stamp}\n` });

describe('an external registry shared by two homes (docker-registry, token auth)', { skip }, () => {
  let homes: TestHomes<'a' | 'b'>;
  let dir: string;
  let base: BaseImage;
  let homeA: string;
  let homeB: string;
  let regA: Registry;
  let regB: Registry;
  let extA: ExternalRegistry;
  let extB: ExternalRegistry;
  let serve: ServeProcess;
  let theirs: RunningRegistry;
  let first: { digest: string; version: number };
  let motdBuiltMs = 0;
  let grantsA: Grants;
  const repository = 'clients/acme-1';

  const input = async (builder: PipelineImageBuilder, outcomes: { module: string; outcome: ModuleOutcome; ms: number }[], on: BaseRef & { name: string } = base, repo = repository): Promise<BuildInput> => {
    const vector = webDbVector();
    const b = { ...on, name: on.name };
    return {
      repository: repo,
      base: b,
      vector,
      vectorDigest: sha256Digest(canonicalJson(vector)),
      planDigest: await builder.planDigest({ base: b, vector }),
      onEvent: (e) => {
        if (e.type === 'module-done') outcomes.push({ module: e.module, outcome: e.outcome, ms: e.ms });
      },
    };
  };
  const builderOf = (home: string, registry: Registry, pipeline: readonly AssembledModule[], external: ExternalRegistry): PipelineImageBuilder =>
    new PipelineImageBuilder({ paths: paths(home), registry, pipeline, external });

  before(async () => {
    base = await debianBase();
    // the worker's home (b) has nothing of a's: the base is the test run's, by path
    homes = await testHomes({ prefix: 'extreg', names: ['a', 'b'] });
    ({ dir, homes: { a: homeA, b: homeB } } = homes);
    grantsA = await Grants.open({ secretsDir: paths(homeA).secrets });
    serve = await startServe(homeA);
    theirs = await startDockerRegistry(join(dir, 'docker-registry'), { tokenAuth: { realm: `${serve.base}/v1/token`, certificatePem: grantsA.signer.certificatePem } });
    const config = ociRegistryConfigSchema.parse(parseRegistryConfig({ kind: 'oci', url: `http://${theirs.address}`, insecure: true }));
    regA = await openRegistry({ root: paths(homeA).registry });
    // the API server's home mints its own tokens: the registry trusts its certificate
    extA = (await openExternalRegistry({ config, local: regA, mintToken: (access) => grantsA.tokenFor({ kind: 'admin' }, access).token }))!;
    // the worker's home has no signer the registry trusts: it authenticates at the realm with a credential
    const credentialsFile = join(dir, 'worker-registry-credentials');
    await writeFile(credentialsFile, `${grantsA.credentials.admin.username}:${grantsA.credentials.admin.secret}\n`, { mode: 0o600 });
    regB = await openRegistry({ root: paths(homeB).registry });
    // (and no `insecure`: an http:// URL is plain HTTP already)
    extB = (await openExternalRegistry({ config: { kind: 'oci', url: config.url, credentialsFile }, local: regB }))!;
  });
  after(async () => {
    await theirs?.stop();
    await serve?.stop();
    await homes?.remove();
  });

  test('configuration: the registry kind, checked with the field named; the environment', async () => {
    const loose = join(dir, 'loose-credentials');
    await writeFile(loose, 'admin:x\n', { mode: 0o644 });
    await assert.rejects(openExternalRegistry({ config: { kind: 'oci', url: 'http://127.0.0.1:1', credentialsFile: loose }, local: regB }), /readable by others/);
    assert.throws(() => parseRegistryConfig({ kind: 'oci', url: 'ftp://x' }), /registry\.url/);
    assert.throws(() => parseRegistryConfig({ kind: 'oci', url: 'http://u:p@x' }), /registry\.url/);
    assert.throws(() => parseRegistryConfig({ kind: 's3' }), /registry\.kind/);
    assert.deepEqual(registryConfigFromEnv({}), { kind: 'local' });
    assert.throws(() => registryConfigFromEnv({ PRESCIENT_REGISTRY_URL: 'registry:5000' }), /PRESCIENT_REGISTRY_URL/);
    assert.deepEqual(registryConfigFromEnv({ PRESCIENT_REGISTRY_URL: 'http://127.0.0.1:5000', PRESCIENT_REGISTRY_INSECURE: '1' }), { kind: 'oci', url: 'http://127.0.0.1:5000', insecure: true });
  });

  test("the first home's build: its layers and its version are pushed to the registry", async () => {
    const builder = builderOf(homeA, regA, assemblePipeline({ modules: [motd] }), extA);
    const outcomes: { module: string; outcome: ModuleOutcome; ms: number }[] = [];
    const built = await builder.build(await input(builder, outcomes));
    assert.deepEqual(outcomes.map((o) => o.outcome), ['built']);
    motdBuiltMs = outcomes[0]!.ms;
    first = built;
    assert.equal(await extA.digestOf(repository, 'v1'), built.digest);
    assert.equal(await extA.digestOf(repository, 'latest'), built.digest);
    const motdKey = (await new LayerCache(paths(homeA).layers).list()).find((r) => r.module === 'motd')!.key;
    assert.ok(await extA.digestOf(layersRepository, motdKey), 'the motd layer is published under its key');
    assert.ok(await extA.digestOf(basesRepository, `${base.name}-${base.key}`), 'and the base under its name and key');
  });

  test('the second home, with no base at all, fetches the base and the layer it lacks and builds a derived version on top; both fsck clean', async (t) => {
    const baseB = await sharedBaseResolver({ basesDir: paths(homeB).bases, external: extB })(base.name);
    assert.equal(baseB.path, join(paths(homeB).bases, `${base.name}-${base.key}.qcow2`));
    assert.equal(baseB.key, base.key);
    // the record came through the registry: it names no folder of the home that published it
    const recordB = await readFile(join(paths(homeB).bases, `${base.name}-${base.key}.json`), 'utf8');
    assert.ok(!recordB.includes(dirname(base.path)), `the shared base record names the publishing home's path: ${recordB.slice(0, 400)}`);
    const builder = builderOf(homeB, regB, assemblePipeline({ modules: [motd, marker] }), extB);
    const outcomes: { module: string; outcome: ModuleOutcome; ms: number }[] = [];
    const built = await builder.build(await input(builder, outcomes, baseB));
    assert.deepEqual(outcomes.map(({ module, outcome }) => ({ module, outcome })), [{ module: 'motd', outcome: 'pulled' }, { module: 'marker', outcome: 'built' }]);
    t.diagnostic(`worker: motd layer pulled in ${Math.round(outcomes[0]!.ms)} ms (built in ${Math.round(motdBuiltMs)} ms by the first home); marker built in ${Math.round(outcomes[1]!.ms)} ms`);
    // the shared history: the first home's v1 came here first, so this is v2, built after it
    assert.equal(built.version, 2);
    const v2 = await regB.show(`${repository}:v2`);
    assert.equal(v2.version?.parent, first.digest);
    assert.equal((await regB.resolve(repository, 'v1')).digest, first.digest);
    const a = await regA.imageManifest(first.digest as `sha256:${string}`);
    assert.equal(await sha256File(baseB.path), a.layers[0]!.digest, 'the fetched base is the very file A built on');
    assert.deepEqual(v2.manifest.layers.slice(0, 2).map((l) => l.digest), a.layers.map((l) => l.digest), 'base and motd are the same blobs');
    // the fetched layer is in the worker's cache as if built there, read-only, under its digest
    const cached = (await new LayerCache(paths(homeB).layers).list()).find((r) => r.module === 'motd')!;
    assert.equal(cached.digest, a.layers[1]!.digest);
    assert.equal((await stat(cached.path)).mode & 0o222, 0);
    assert.equal(await extB.digestOf(repository, 'v2'), built.digest);
    assert.equal(await extB.digestOf(repository, 'latest'), built.digest);
    // the derived image opens: qemu-img follows the whole chain in B's registry
    const co = await regB.checkout(`${repository}:v2`, join(dir, 'checkout-b'));
    const chain = JSON.parse((await run('qemu-img', ['info', '--output=json', '--backing-chain', co.top])).stdout) as unknown[];
    assert.equal(chain.length, 3);
    for (const r of [regA, regB]) {
      const fsck = await r.fsck();
      assert.equal(fsck.ok, true, JSON.stringify(fsck.problems));
    }
    // and the registry's own storage: every manifest's blobs are there (its gc's mark phase reads them all)
    const marked = await run('docker-registry', ['garbage-collect', '--dry-run', theirs.config], { allowFailure: true, timeoutMs: 120_000 });
    assert.equal(marked.exitCode, 0, marked.stderr);
  });

  test("a prebuilt hit from the registry: the first home answers the second's plan without building", async () => {
    const builder = builderOf(homeA, regA, assemblePipeline({ modules: [motd, marker] }), extA);
    const outcomes: { module: string; outcome: ModuleOutcome; ms: number }[] = [];
    const hit = await builder.build(await input(builder, outcomes));
    assert.deepEqual(outcomes, [], 'nothing built');
    assert.equal(hit.version, 2);
    assert.equal(hit.digest, await extA.digestOf(repository, 'latest'));
    assert.equal((await regA.fsck()).ok, true);
  });

  test('a rollback moves the tag there too, so the other home does not bring the newer version back', async () => {
    const r = await extA.rollback(repository, { to: 1 });
    assert.equal(r.to, first.digest);
    assert.equal(await extA.digestOf(repository, 'latest'), first.digest);
    assert.equal(await extB.syncLatest(repository), first.digest);
    assert.equal((await regB.tags(repository)).get('latest'), first.digest);
    assert.equal((await regB.versions(repository)).length, 2, 'no new version: v1 was already here');
  });

  test('a version registered here whose push failed is pushed by the next build of the same plan', async () => {
    const pipeline = assemblePipeline({ modules: [motd] });
    // a token that may pull but not push: everything up to the version's push works
    const pullOnly = (await openExternalRegistry({ config: extA.config, local: regA, mintToken: (access) => grantsA.tokenFor({ kind: 'admin' }, access.map((a) => ({ ...a, actions: ['pull' as const] }))).token }))!;
    const failing = builderOf(homeA, regA, pipeline, pullOnly);
    await assert.rejects(failing.build(await input(failing, [], base, 'clients/retry')));
    assert.equal((await regA.versions('clients/retry')).length, 1, 'registered here');
    assert.equal(await extA.digestOf('clients/retry', 'latest'), undefined, 'not there');
    const builder = builderOf(homeA, regA, pipeline, extA);
    const outcomes: { module: string; outcome: ModuleOutcome; ms: number }[] = [];
    const again = await builder.build(await input(builder, outcomes, base, 'clients/retry'));
    assert.deepEqual(outcomes, [], 'nothing built');
    assert.equal(again.version, 1);
    assert.equal(await extA.digestOf('clients/retry', 'latest'), again.digest);
    assert.equal(await extA.digestOf('clients/retry', 'v1'), again.digest);
  });

  test('a version tag never moves there: v1 pushed as v2 leaves v2 and is answered as the v1 it is there', async () => {
    const v2 = await extA.digestOf(repository, 'v2');
    assert.deepEqual(await extA.pushVersion({ repository, digest: first.digest as `sha256:${string}`, version: 2, tags: [] }), { digest: first.digest, version: 1, adopted: false });
    assert.equal(await extA.digestOf(repository, 'v2'), v2);
  });
});
