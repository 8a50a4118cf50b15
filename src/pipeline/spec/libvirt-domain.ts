import type { VmSpec } from '../vm-spec.js';

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * A libvirt domain for the personalised image: the VM spec's vCPUs and memory, the disk on
 * virtio, a virtio NIC on the default network, a serial console, the guest-agent channel when
 * the image runs qemu-guest-agent (a channel nobody answers makes libvirt wait on it), and the
 * cloud-init seed as a CD-ROM when there is one. `domainType` follows the KVM probe: a `kvm`
 * domain does not start where KVM does not work, and host-passthrough needs KVM. Validates
 * with virt-xml-validate.
 */
export function libvirtDomainXml(input: { name: string; spec: VmSpec; diskPath: string; seedIsoPath?: string; domainType: 'kvm' | 'qemu'; guestAgent: boolean }): string {
  const { spec } = input;
  const seed = input.seedIsoPath
    ? `
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='${xmlEscape(input.seedIsoPath)}'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>`
    : '';
  const agent = input.guestAgent
    ? `
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>`
    : '';
  const cpu = input.domainType === 'kvm' ? "<cpu mode='host-passthrough'/>" : "<!-- software emulation: QEMU's default CPU model -->";
  return `<domain type='${input.domainType}'>
  <name>${xmlEscape(input.name)}</name>
  <metadata>
    <prescient:image xmlns:prescient='https://prescient.dev/xmlns/image/1'>
      <prescient:hostname>${xmlEscape(spec.hostname)}</prescient:hostname>
      <prescient:diskGiB>${spec.diskGiB}</prescient:diskGiB>
      <prescient:swapMiB>${spec.swapMiB}</prescient:swapMiB>
    </prescient:image>
  </metadata>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <currentMemory unit='MiB'>${spec.memoryMiB}</currentMemory>
  <vcpu placement='static'>${spec.vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  ${cpu}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='${xmlEscape(input.diskPath)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>${seed}
    <interface type='network'>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>${agent}
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
  </devices>
</domain>
`;
}
