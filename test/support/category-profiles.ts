import type { UsageVector } from '../../src/contracts/usage-vector.js';
import { tcpInbound, testVector } from './vectors.js';

/** What a category of client runs: the packages it uses, the services it serves (with their load) and the ports opened to it. */
export interface CategoryProfile {
  software: string[];
  services: UsageVector['services'];
  ports: number[];
}

/**
 * Four kinds of client with the services the pipeline tunes — a web server, a web server with
 * its database, a cache, a developer's machine — as the storage test and the layer and
 * personalise benchmarks build them. `devSoftware`: the developer's packages, which each of
 * those sizes to its own purpose (one package, or a compiler's worth).
 */
export function categoryProfiles(input: { devSoftware: string[] }): Record<'web' | 'web-db' | 'cache' | 'dev', CategoryProfile> {
  return {
    web: { software: ['nginx'], services: [{ name: 'nginx', expectedLoad: { requestsPerSecond: 300 }, concurrency: 128 }], ports: [80, 443] },
    'web-db': {
      software: ['nginx', 'postgresql'],
      services: [
        { name: 'nginx', expectedLoad: { requestsPerSecond: 150 }, concurrency: 64 },
        { name: 'postgresql', expectedLoad: { connections: 20 }, concurrency: 20 },
      ],
      ports: [80, 443],
    },
    cache: { software: ['redis-server'], services: [{ name: 'redis', expectedLoad: { connections: 200 }, concurrency: 200 }], ports: [6379] },
    dev: { software: input.devSoftware, services: [], ports: [] },
  };
}

/**
 * A usage vector of one client of a category: the profile's packages (0.9 likely), services and
 * inbound TCP ports, the datasets given (0.9 likely) and the caller's resources.
 */
export function profileVector(input: {
  profile: CategoryProfile;
  category: string;
  clientId: string;
  resources: UsageVector['resources'];
  datasets?: readonly { source: string; destination: string; sizeBytes: number }[];
  modelId?: string;
}): UsageVector {
  return testVector({
    subject: { clientId: input.clientId, category: input.category },
    model: { id: input.modelId ?? 'test', version: '1' },
    resources: input.resources,
    software: input.profile.software.map((name) => ({ name, probability: 0.9 })),
    services: input.profile.services,
    datasets: (input.datasets ?? []).map(({ source, destination, sizeBytes }) => ({ source, destination, sizeBytes, probability: 0.9 })),
    network: tcpInbound(input.profile.ports),
  });
}
