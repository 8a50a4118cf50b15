import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { racyTickMs } from '../core/file-identity.js';
import type { Digest } from '../core/digest.js';
import { mediaTypes } from './media-types.js';
import { OciLayout } from './oci-layout.js';

const descriptor = (i: number) => ({ mediaType: mediaTypes.ociManifest, digest: `sha256:${i.toString(16).padStart(64, '0')}` as Digest, size: 100 + i });

// `serve` answers every prebuilt hit from a cached index.json; `prescient` commands and workers
// (other processes) move tags in it. Each change must be seen by the next read, never the old one.
test('index.json is read again after every change, by this layout or another process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'prescient-layout-'));
  try {
    const serve = await OciLayout.open(root);
    const other = await OciLayout.open(root);
    assert.deepEqual((await serve.readIndex()).manifests, []);
    for (let i = 1; i <= 20; i++) {
      await other.updateIndex((index) => void index.manifests.push(descriptor(i)));
      assert.equal((await serve.readIndex()).manifests.length, i, `change ${i} by another layout not seen`);
      await serve.updateIndex((index) => void index.manifests.shift());
      assert.equal((await serve.readIndex()).manifests.length, i - 1, `change ${i} by this layout not seen`);
      await serve.updateIndex((index) => void index.manifests.unshift(descriptor(i)));
    }
    // One read shared by callers: frozen, so no caller can change another's view. Once older than
    // the timestamp tick: a younger index.json is read again by every call (the racy rule).
    await sleep(racyTickMs + 100);
    const index = await serve.readIndex();
    assert.equal(await serve.readIndex(), index);
    assert.throws(() => index.manifests.push(descriptor(99)), TypeError);
    // A file replaced in place (an admin's editor, a restore) is seen too, and bad JSON still names the file.
    await writeFile(join(root, 'index.json'), '{"schemaVersion":2,"manifests":[');
    await assert.rejects(serve.readIndex(), /index\.json/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
