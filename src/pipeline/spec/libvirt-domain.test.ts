import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../core/exec.js';
import { libvirtDomainXml } from './libvirt-domain.js';

const spec = { vcpus: 2, memoryMiB: 4096, diskGiB: 4, swapMiB: 0, hostname: 'acme-1' };

test('the domain type follows the KVM probe, and the guest-agent channel appears only with the agent installed; both validate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-domain-'));
  try {
    for (const domainType of ['kvm', 'qemu'] as const) {
      for (const guestAgent of [true, false]) {
        const xml = libvirtDomainXml({ name: 'prescient-acme-1', spec, diskPath: '/var/lib/libvirt/images/acme.qcow2', seedIsoPath: '/var/lib/libvirt/images/acme-seed.iso', domainType, guestAgent });
        assert.match(xml, new RegExp(`^<domain type='${domainType}'>`));
        assert.equal(xml.includes('org.qemu.guest_agent.0'), guestAgent);
        // host-passthrough needs KVM: under emulation QEMU's default model is used.
        assert.equal(xml.includes("host-passthrough"), domainType === 'kvm');
        const file = join(dir, `${domainType}-${guestAgent}.xml`);
        await writeFile(file, xml);
        const v = await run('virt-xml-validate', [file, 'domain'], { allowFailure: true });
        assert.equal(v.exitCode, 0, v.stderr + v.stdout);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
