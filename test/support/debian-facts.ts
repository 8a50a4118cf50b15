import type { ImageFacts } from '../../src/image/facts.js';

/** A Debian 12 base as its facts say, carrying these packages: planning reads no disk. */
export function debianFacts(packages: readonly string[]): ImageFacts {
  return {
    image: '/bases/debian.qcow2',
    format: 'qcow2',
    virtualSizeBytes: 4 * 1024 ** 3,
    actualSizeBytes: 600 * 1024 ** 2,
    backingChain: [],
    os: { id: 'debian', versionId: '12', codename: 'bookworm' },
    architecture: 'amd64',
    disk: { table: 'dos', partitions: [], rootPartition: 1 },
    rootFilesystem: { sizeBytes: 4 * 1024 ** 3, usedBytes: 600 * 1024 ** 2, freeBytes: 3.4 * 1024 ** 3 },
    packages: packages.map((name) => ({ name, version: '1', architecture: 'amd64' })),
    services: [],
  };
}
