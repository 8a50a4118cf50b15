import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { hasCommand, run } from '../core/exec.js';
import { openRegistry } from './registry.js';
import { addOverlay, makeChain, readsPattern, type FixtureChain } from './testing/qcow2-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const worker = (name: string): string => join(here, 'testing', `${name}.js`);
const skip = !(await hasCommand('skopeo')) && 'skopeo is needed (scripts/debian-packages.txt)';

interface Spawned {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Spawned {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const randomMs = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

describe('crash safety', { skip }, () => {
  let dir: string;
  let root: string;
  let sourceRoot: string;
  let base: FixtureChain;
  const sourceTops: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-crash-'));
    root = join(dir, 'registry');
    sourceRoot = join(dir, 'source');
    base = await makeChain(join(dir, 'base'), 1, { writeMiB: 4 });
    const registry = await openRegistry({ root });
    await registry.register({ repository: 'clients/acme', layers: [{ path: base.files[0]! }], config: { first: true } });
    // versions to push: each a new 8 MiB overlay on the same base
    const source = await openRegistry({ root: sourceRoot });
    for (let k = 0; k < 10; k++) {
      const c = await addOverlay(base, join(dir, 'base', `src-${k}.qcow2`), 0x30 + k, 8, 8);
      await source.register({ repository: 'clients/src', layers: c.files.map((path) => ({ path })), config: { k } });
      sourceTops.push(0x30 + k);
    }
    await mkdir(join(dir, 'work'), { recursive: true });
    // one push that completes, so an earlier pushed version exists before the kills start
    const s = start('node', [join(here, '..', 'server', 'testing', 'registry-serve-worker.js'), root]);
    for (let t = 0; s.lines.length === 0 && t < 800; t++) await sleep(25);
    const { port } = JSON.parse(s.lines[0]!) as { port: number };
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${sourceRoot}:clients/src:v10`, `docker://127.0.0.1:${port}/clients/pushed:latest`], { timeoutMs: 120_000 });
    s.child.kill('SIGKILL');
    await s.exited;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('SIGKILL at random points during registrations and pushes, 20 times: fsck clean, every earlier version pullable', async () => {
    const survived = new Map<string, string>(); // digest → repository, every version reported complete
    let pushesKilled = 0;
    let registrationsDone = 0;
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) {
        const w = start('node', [worker('register-worker'), root, base.files[0]!, join(dir, 'work'), 'clients/acme']);
        await sleep(randomMs(500, 2500));
        w.child.kill('SIGKILL');
        await w.exited;
        for (const line of w.lines) {
          survived.set((JSON.parse(line) as { digest: string }).digest, 'clients/acme');
          registrationsDone++;
        }
      } else {
        const s = start('node', [join(here, '..', 'server', 'testing', 'registry-serve-worker.js'), root]);
        for (let t = 0; s.lines.length === 0 && t < 800; t++) await sleep(25);
        const { port } = JSON.parse(s.lines[0]!) as { port: number };
        const k = (i >> 1) % 10;
        const copy = run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${sourceRoot}:clients/src:v${k + 1}`, `docker://127.0.0.1:${port}/clients/pushed:latest`], { allowFailure: true, timeoutMs: 60_000 });
        await sleep(randomMs(30, 500));
        s.child.kill('SIGKILL');
        await s.exited;
        const r = await copy;
        if (r.exitCode !== 0) pushesKilled++;
      }
      const registry = await openRegistry({ root });
      const f = await registry.fsck();
      assert.deepEqual(f.problems, [], `round ${i}: fsck problems`);
      assert.equal(f.ok, true);
      const versions = await registry.versions('clients/acme');
      for (const [digest, repo] of survived) {
        if (repo === 'clients/acme') assert.ok(versions.some((v) => v.digest === digest), `round ${i}: finished registration ${digest} survived`);
      }
      const latest = await registry.checkout('clients/acme:latest', join(dir, 'co', String(i)));
      assert.ok(await readsPattern(latest.top, base.patterns[0]!, 0, 4), `round ${i}: latest opens`);
      await rm(join(dir, 'co', String(i)), { recursive: true, force: true });
    }
    assert.ok(registrationsDone > 0, 'some registrations finished between kills');

    // every version of every repository pulls through the API
    const registry = await openRegistry({ root });
    const s = start('node', [join(here, '..', 'server', 'testing', 'registry-serve-worker.js'), root]);
    for (let t = 0; s.lines.length === 0 && t < 800; t++) await sleep(25);
    const { port } = JSON.parse(s.lines[0]!) as { port: number };
    try {
      for (const repo of await registry.repositories()) {
        for (const v of await registry.versions(repo)) {
          const out = join(dir, 'pulled', repo.replace('/', '_'), `v${v.version}`);
          await mkdir(dirname(out), { recursive: true });
          await run('skopeo', ['copy', '--src-tls-verify=false', `docker://127.0.0.1:${port}/${repo}:v${v.version}`, `oci:${out}:x`], { timeoutMs: 60_000 });
          const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
          assert.equal(index.manifests[0]!.digest, v.digest);
        }
      }
    } finally {
      s.child.kill('SIGKILL');
      await s.exited;
    }
    // What OCI clients push keeps its own tag (no v<n> versions): the last push that finished is `latest`.
    const pushed = (await registry.tags('clients/pushed')).get('latest');
    assert.ok(pushed, 'the push completed before the kills is still there');
    const co = await registry.checkout(`clients/pushed@${pushed}`, join(dir, 'pushed-co'));
    assert.ok(await readsPattern(co.top, base.patterns[0]!, 0, 4));
    const tops = await Promise.all(sourceTops.map((p) => readsPattern(co.top, p, 8, 8)));
    assert.equal(tops.filter(Boolean).length, 1, 'the pushed top layer reads back');
    process.stderr.write(`crash test: ${registrationsDone} registrations finished, ${pushesKilled}/10 pushes cut by the kill, latest push ${pushed}\n`);
  });
});
