import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../core/exec.js';
import { ValidationError } from '../core/errors.js';
import { exportFlat } from './export.js';
import { openRegistry, type Registry } from './registry.js';

/**
 * `images register --layer` stores whatever qcow2 it is handed. A qcow2 whose external data file
 * names a host file would carry that file into the registry's images (export, checkout, a VM's
 * disk): the header is refused, with the layer's field, before anything stores or reads it.
 */
let dir: string;
let registry: Registry;
const secret = 'TOP-SECRET-HOST-FILE';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prescient-hostile-layers-'));
  registry = await openRegistry({ root: join(dir, 'registry') });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a layer whose qcow2 header names an external data file is refused by field, and the host file stays out of the store', async () => {
  const host = join(dir, 'host-secret');
  const layer = join(dir, 'base.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${host},data_file_raw=on`, layer, '1M']);
  await writeFile(host, Buffer.concat([Buffer.from(secret), Buffer.alloc(1024 * 1024 - secret.length)]));
  await assert.rejects(
    async () => {
      await registry.register({ repository: 'clients/evil', layers: [{ path: layer }], config: {} });
      // What the old code did next: the host file's bytes became the image's disk.
      const out = join(dir, 'flat.qcow2');
      await exportFlat(registry, 'clients/evil:latest', out);
      const raw = join(dir, 'flat.raw');
      await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', out, raw]);
      assert.ok(!(await readFile(raw)).includes(secret), 'the exported image holds the host file');
    },
    (e: unknown) => e instanceof ValidationError && e.field === 'layers[0].path' && /external data file/.test(e.message),
  );
  await assert.rejects(registry.resolve('clients/evil', 'latest'));
});

test('an overlay backed by a pseudo-protocol name, or whose header points past its end, is refused by field before qemu-img reads it', async () => {
  const base = join(dir, 'plain-base.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '1M']);
  const nbd = join(dir, 'nbd.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'nbd:127.0.0.1:10809', '-F', 'raw', nbd, '1M']);
  await assert.rejects(registry.register({ repository: 'clients/evil2', layers: [{ path: base }, { path: nbd }], config: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'layers[1].path' && /pseudo-protocol/.test(e.message));
  const far = join(dir, 'far.qcow2');
  const header = await readFile(base);
  header.writeBigUInt64BE(2n ** 62n, 8);
  header.writeUInt32BE(16, 16);
  await writeFile(far, header);
  await assert.rejects(registry.register({ repository: 'clients/evil2', layers: [{ path: far }], config: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'layers[0].path' && /past the end of the file/.test(e.message));
  await assert.rejects(registry.resolve('clients/evil2', 'latest'));
});
