import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { annotations } from '../contracts/annotations.js';
import { paths } from '../core/config.js';
import { sha256Digest, type Digest } from '../core/digest.js';
import { run } from '../core/exec.js';
import { openExternalRegistry, type ExternalRegistry } from '../registry/external-registry.js';
import { pushImage } from '../registry/remote.js';
import { openRegistry, type Registry } from '../registry/registry.js';
import { hasDockerRegistry, startDockerRegistry, type RunningRegistry } from '../registry/testing/docker-registry.js';
import { makeChain, type FixtureChain } from '../registry/testing/qcow2-fixtures.js';
import { debianFacts } from '../../test/support/debian-facts.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { webDbVector } from '../../test/support/vectors.js';
import { PipelineImageBuilder, type BuildInput } from './image-builder.js';

const skip = !(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)';

/**
 * Homes sharing one docker-registry when a push was cut between a version tag and `latest`
 * (the pushing home died): the version there is the truth. Fixture images stand in for built
 * ones — the builder's answer from the registry does not run the pipeline — so no Debian build.
 */
describe('a shared registry after a push cut between v<n> and latest (docker-registry)', { skip }, () => {
  let homes: TestHomes<'a' | 'b' | 'c'>;
  let theirs: RunningRegistry;
  let chain: FixtureChain;
  const local = {} as Record<'a' | 'b' | 'c', Registry>;
  const ext = {} as Record<'a' | 'b' | 'c', ExternalRegistry>;
  const repository = 'clients/x';
  const base = { name: 'debian-12', key: 'k'.repeat(16), path: '/nonexistent', facts: debianFacts([]) };
  const planP = sha256Digest('plan P');
  const planQ = sha256Digest('plan Q');
  const vmSpec = { vcpus: 2, memoryMiB: 2048, diskGiB: 8 };

  /** What a build registers for `plan`: the same layers, a config of its own (timings differ between homes). */
  const register = async (home: 'a' | 'b' | 'c', plan: Digest, layers: number): Promise<Digest> =>
    (await local[home].register({
      repository,
      layers: chain.files.slice(0, layers).map((path) => ({ path })),
      config: { vmSpec, plan: [], timings: [{ home }] },
      annotations: { [annotations.planDigest]: plan, [annotations.baseKey]: base.key, [annotations.baseName]: base.name },
    })).digest;
  const build = (home: 'a' | 'b' | 'c', planDigest: Digest): ReturnType<PipelineImageBuilder['build']> => {
    const vector = webDbVector();
    const input: BuildInput = { repository, base, vector, vectorDigest: sha256Digest(JSON.stringify(vector)), planDigest };
    return new PipelineImageBuilder({ paths: paths(homes.homes[home]), registry: local[home], pipeline: [], external: ext[home] }).build(input);
  };
  const tagsThere = async (): Promise<Record<string, Digest | undefined>> => {
    const listed = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${theirs.address}/${repository}`])).stdout) as { Tags: string[] };
    const out: Record<string, Digest | undefined> = {};
    for (const t of listed.Tags.sort()) out[t] = await ext.a.digestOf(repository, t);
    return out;
  };

  before(async () => {
    homes = await testHomes({ prefix: 'shared-push', names: ['a', 'b', 'c'] });
    chain = await makeChain(join(homes.dir, 'chain'), 2, { writeMiB: 1 });
    theirs = await startDockerRegistry(join(homes.dir, 'docker-registry'));
    for (const h of ['a', 'b', 'c'] as const) {
      local[h] = await openRegistry({ root: paths(homes.homes[h]).registry });
      ext[h] = (await openExternalRegistry({ config: { kind: 'oci', url: `http://${theirs.address}` }, local: local[h] }))!;
    }
  });
  after(async () => {
    await theirs?.stop();
    await homes?.remove();
  });

  test("the same plan: the other home adopts the version there instead of failing CONFLICT on every build", async () => {
    const a = await register('a', planP, 2);
    // home A pushed v1 and died before `latest`
    await pushImage(local.a, `${repository}@${a}`, `${theirs.address}/${repository}:v1`, { insecure: true });
    const b = await register('b', planP, 2);
    assert.notEqual(a, b);
    // B's own v1 is its local latest for this plan: the build answers from it and pushes it
    const first = await build('b', planP);
    assert.deepEqual({ digest: first.digest, version: first.version, tags: first.tags }, { digest: a, version: 1, tags: ['v1', 'latest'] });
    assert.deepEqual(first.spec, vmSpec);
    assert.deepEqual(await tagsThere(), { latest: a, v1: a }, "A's v1 stands and is latest; B's image is not pushed under another number");
    assert.equal((await local.b.tags(repository)).get('latest'), a, 'adopted here: the next build answers from it');
    // answered from here now, still told by its number there (it is v2 here: B's own is v1)
    const again = await build('b', planP);
    assert.deepEqual({ digest: again.digest, version: again.version }, { digest: a, version: 1 });
    assert.equal((await local.b.show(`${repository}@${a}`)).version?.version, 2);
    // and by a process that did not adopt it (B restarted): the number is read there
    ext.b = (await openExternalRegistry({ config: ext.b.config, local: local.b }))!;
    assert.equal((await build('b', planP)).version, 1);
    assert.deepEqual(await tagsThere(), { latest: a, v1: a });
    assert.equal((await local.b.fsck()).ok, true);
    // and A, back, finds its version there as it left it
    assert.deepEqual(await build('a', planP).then((r) => ({ digest: r.digest, version: r.version })), { digest: a, version: 1 });
  });

  test('another plan under the taken number: it becomes the next free version there, never an overwrite', async () => {
    const before = await tagsThere();
    // C registered its v1 of another plan while A's v1 went there (what a build pushes after registering)
    const c = await register('c', planQ, 1);
    assert.equal((await local.c.show(`${repository}@${c}`)).version?.version, 1);
    assert.deepEqual(await ext.c.pushVersion({ repository, digest: c, version: 1, tags: ['latest'] }), { digest: c, version: 2, adopted: false });
    assert.deepEqual(await tagsThere(), { latest: c, v1: before['v1'], v2: c });
    const hit = await build('c', planQ);
    assert.deepEqual({ digest: hit.digest, version: hit.version, tags: hit.tags.sort() }, { digest: c, version: 2, tags: ['latest', 'v2'] }, 'the next request is told v2 too');
    // an image that is a version there already keeps its number: asked as v2, A's v1 is answered v1
    assert.deepEqual(await ext.a.pushVersion({ repository, digest: before['v1']!, version: 2, tags: [] }), { digest: before['v1'], version: 1, adopted: false });
    assert.deepEqual(await tagsThere(), { latest: c, v1: before['v1'], v2: c });
  });

  test('a push interrupted mid-way leaves no tag on a part of a manifest, and the next push completes', async (t) => {
    const big = await makeChain(join(homes.dir, 'big'), 1, { sizeMiB: 256, writeMiB: 200, seed: 3 });
    const d = (await local.a.register({ repository: 'clients/cut', layers: big.files.map((path) => ({ path })), config: { vmSpec }, annotations: { [annotations.planDigest]: planP, [annotations.baseKey]: base.key } })).digest;
    const signal = AbortSignal.timeout(300);
    const cut = await ext.a.pushVersion({ repository: 'clients/cut', digest: d, version: 1, tags: ['latest'], signal }).then(() => 'finished', (e: unknown) => String(e));
    t.diagnostic(`interrupted push: ${cut}`);
    for (const tag of ['v1', 'latest']) {
      const there = await ext.a.digestOf('clients/cut', tag);
      assert.ok(there === undefined || there === d, `${tag} names ${there}`);
    }
    assert.deepEqual(await ext.a.pushVersion({ repository: 'clients/cut', digest: d, version: 1, tags: ['latest'] }), { digest: d, version: 1, adopted: false });
    assert.equal(await ext.a.digestOf('clients/cut', 'latest'), d);
    // every manifest's blobs are in docker-registry's storage
    const marked = await run('docker-registry', ['garbage-collect', '--dry-run', theirs.config], { allowFailure: true, timeoutMs: 120_000 });
    assert.equal(marked.exitCode, 0, marked.stderr);
  });
});
