import type { VmSpec } from '../vm-spec.js';

/**
 * OpenStack Glance image properties: the minimum flavour the image needs (min_ram in MiB,
 * min_disk in GiB) and the hardware hints (hw_cpu_*, virtio disk and NIC, guest agent).
 */
export function glanceProperties(input: { spec: VmSpec; os: { id: string; versionId?: string }; architecture: string }): Record<string, string | number> {
  const { spec } = input;
  return {
    min_ram: spec.memoryMiB,
    min_disk: Math.ceil(spec.diskGiB),
    hw_cpu_sockets: 1,
    hw_cpu_cores: spec.vcpus,
    hw_cpu_threads: 1,
    hw_cpu_max_sockets: 1,
    hw_disk_bus: 'virtio',
    hw_vif_model: 'virtio',
    hw_qemu_guest_agent: 'no',
    hw_rng_model: 'virtio',
    hw_machine_type: 'q35',
    architecture: input.architecture === 'amd64' ? 'x86_64' : input.architecture,
    os_distro: input.os.id,
    ...(input.os.versionId ? { os_version: input.os.versionId } : {}),
    disk_format: 'qcow2',
    container_format: 'bare',
  };
}
