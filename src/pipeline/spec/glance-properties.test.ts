import assert from 'node:assert/strict';
import { test } from 'node:test';
import { glanceImage } from './glance-properties.js';

test('Glance: image attributes apart from --property properties, as openstack image create takes them', () => {
  const g = glanceImage({ spec: { vcpus: 2, memoryMiB: 4096, diskGiB: 9.5, swapMiB: 0, hostname: 'web-1' }, os: { id: 'debian', versionId: '12' }, architecture: 'amd64' });
  assert.deepEqual(g.attributes, { disk_format: 'qcow2', container_format: 'bare', min_ram: 4096, min_disk: 10 });
  // Attributes are the image's own fields: none may appear as a property (Glance refuses them there).
  for (const k of ['disk_format', 'container_format', 'min_ram', 'min_disk', 'name', 'visibility', 'size']) assert.equal(k in g.properties, false, k);
  assert.ok(Object.values(g.properties).every((v) => typeof v === 'string'), 'property values are strings');
  assert.equal(g.properties.architecture, 'x86_64');
  assert.equal(g.properties.hw_cpu_cores, '2');
  const args = g.openstackImageCreateArgs;
  assert.deepEqual(args.slice(0, 8), ['--disk-format', 'qcow2', '--container-format', 'bare', '--min-ram', '4096', '--min-disk', '10']);
  assert.ok(args.includes('hw_disk_bus=virtio') && args[args.indexOf('hw_disk_bus=virtio') - 1] === '--property');
});
