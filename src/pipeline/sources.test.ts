import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { racyTickMs } from '../core/file-identity.js';
import { parsePolicy } from '../policy/policy.js';
import { webDbVector } from '../../test/support/vectors.js';
import { debianFacts } from '../../test/support/debian-facts.js';
import { planPersonalization } from './personalize.js';
import { assemblePipeline } from './plan.js';
import { resolveSources } from './sources.js';

const dir = await mkdtemp(join(tmpdir(), 'prescient-sources-'));
after(() => rm(dir, { recursive: true, force: true }));

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

test('a dataset rewritten in place with the same size and modification time is digested again', async () => {
  const file = join(dir, 'data.csv');
  // A whole second, so the ms-precision stamp (mtimeMs) can be set back to exactly this value.
  const stamp = 1_700_000_000;
  await writeFile(file, 'a,1\n');
  await utimes(file, stamp, stamp);
  const policy = parsePolicy({ datasets: [{ name: 'data', kind: 'file', path: file, maxBytes: 100 }] });
  const vector = webDbVector([{ source: 'data', destination: '/srv/data.csv', sizeBytes: 4 }]);
  const digest = async (): Promise<string | undefined> => (await resolveSources(vector, { threshold: 0.5, policy })).get('data')?.sha256;
  assert.equal(await digest(), sha256('a,1\n'));
  const before = await stat(file);
  // The kernel stamps ctime from a clock that ticks every few ms: let one tick pass.
  await new Promise((resolve) => setTimeout(resolve, 20));
  // The same inode, the same size, the same mtimeMs: what a rewrite within one millisecond
  // looks like to a path+size+mtimeMs+inode key.
  await writeFile(file, 'b,2\n');
  await utimes(file, stamp, stamp);
  const now = await stat(file);
  assert.deepEqual([now.ino, now.size, now.mtimeMs], [before.ino, before.size, before.mtimeMs]);
  assert.equal(await digest(), sha256('b,2\n'), 'the new bytes, not the digest kept for the old ones');
  const resolved = (await resolveSources(vector, { threshold: 0.5, policy })).get('data');
  assert.deepEqual(resolved, { path: file, sha256: sha256('b,2\n'), sizeBytes: 4 });
});

test('an unchanged dataset is served from the memo; a request aborted before it resolves is refused', async () => {
  const file = join(dir, 'same.csv');
  await writeFile(file, 'x\n'.repeat(1000));
  // Older than the timestamp tick, or every call reads it again (FileIdentityCache's racy rule).
  await sleep(racyTickMs + 100);
  const policy = parsePolicy({ datasets: [{ name: 'same', kind: 'file', path: file, maxBytes: 1 << 20 }] });
  const vector = webDbVector([{ source: 'same', destination: '/srv/same.csv', sizeBytes: 2000 }]);
  const [a, b] = await Promise.all([resolveSources(vector, { threshold: 0.5, policy }), resolveSources(vector, { threshold: 0.5, policy })]);
  assert.equal(a.get('same'), b.get('same'), 'requests together share one read');
  assert.equal((await resolveSources(vector, { threshold: 0.5, policy })).get('same'), a.get('same'));
  await writeFile(join(dir, 'other.csv'), 'y\n');
  const other = parsePolicy({ datasets: [{ name: 'same', kind: 'file', path: join(dir, 'other.csv'), maxBytes: 100 }] });
  await assert.rejects(resolveSources(vector, { threshold: 0.5, policy: other, signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal((await resolveSources(vector, { threshold: 0.5, policy: other })).get('same')?.sha256, sha256('y\n'), 'an aborted read is not kept');
});

test('a plan names its datasets, never their host paths, and is the same wherever the admin keeps the bytes', async () => {
  const plan = async (folder: string): Promise<string> => {
    await mkdir(join(folder, 'sales'), { recursive: true });
    await writeFile(join(folder, 'sales', '2026.csv'), 'month,total\n1,100\n');
    const policy = parsePolicy({ datasets: [{ name: 'sales', kind: 'folder', path: join(folder, 'sales'), maxBytes: 1 << 20 }] });
    const vector = webDbVector([{ source: 'sales/2026.csv', destination: '/srv/data/2026.csv', sizeBytes: 18 }]);
    const base = { path: join(folder, 'base.qcow2'), key: 'base', facts: debianFacts(['apt']) };
    return JSON.stringify(await planPersonalization({ base, vector, pipeline: assemblePipeline({ only: ['data'] }), policy }));
  };
  const [a, b] = [await plan(join(dir, 'admin-a')), await plan(join(dir, 'admin-b'))];
  assert.match(a, /"kind":"copy-data","dataset":"sales\/2026.csv","sha256":"[0-9a-f]{64}"/);
  assert.ok(!a.includes(dir), `the plan (shown to clients in the image's config and the request stream) names a host path: ${a}`);
  assert.equal(a, b, 'the same bytes plan the same layer');
});
