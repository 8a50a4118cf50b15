import type { VmSpec } from '../vm-spec.js';

/**
 * What OpenStack Glance needs for the image, split the way `openstack image create` takes it:
 * image *attributes* are fields of the image itself (its own flags: --disk-format,
 * --container-format, --min-ram in MiB, --min-disk in GiB); *properties* are free key=value
 * metadata (`--property`), where the hardware hints (hw_cpu_*, virtio disk and NIC) and the
 * common properties (architecture, os_distro, os_version) live, always as strings. Mixing them
 * made the file unusable as it stood.
 */
export interface GlanceImage {
  attributes: { disk_format: 'qcow2'; container_format: 'bare'; min_ram: number; min_disk: number };
  properties: Record<string, string>;
  /** The arguments of `openstack image create --file disk.qcow2 <name> …`, in order. */
  openstackImageCreateArgs: string[];
}

export function glanceImage(input: { spec: VmSpec; os: { id: string; versionId?: string }; architecture: string; guestAgent?: boolean }): GlanceImage {
  const { spec } = input;
  const attributes = { disk_format: 'qcow2', container_format: 'bare', min_ram: spec.memoryMiB, min_disk: Math.ceil(spec.diskGiB) } as const;
  const properties: Record<string, string> = {
    hw_cpu_sockets: '1',
    hw_cpu_cores: String(spec.vcpus),
    hw_cpu_threads: '1',
    hw_cpu_max_sockets: '1',
    hw_disk_bus: 'virtio',
    hw_vif_model: 'virtio',
    hw_qemu_guest_agent: input.guestAgent ? 'yes' : 'no',
    hw_rng_model: 'virtio',
    hw_machine_type: 'q35',
    architecture: input.architecture === 'amd64' ? 'x86_64' : input.architecture,
    os_distro: input.os.id,
    ...(input.os.versionId ? { os_version: input.os.versionId } : {}),
  };
  const openstackImageCreateArgs = [
    '--disk-format', attributes.disk_format,
    '--container-format', attributes.container_format,
    '--min-ram', String(attributes.min_ram),
    '--min-disk', String(attributes.min_disk),
    ...Object.entries(properties).flatMap(([k, v]) => ['--property', `${k}=${v}`]),
  ];
  return { attributes, properties, openstackImageCreateArgs };
}
