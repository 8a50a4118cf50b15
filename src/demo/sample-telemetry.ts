import { seededRandom } from '../core/seeded-random.js';

/**
 * SYNTHETIC telemetry for the quickstart and the end-to-end tests: a few clients of different
 * kinds, made up by this generator (no real machine or person behind them), in the NDJSON wire
 * format of `POST /v1/telemetry` and `prescient ingest --format ndjson`.
 *
 * Each client has a daily rhythm (busier in its working hours), a resource size, the programs
 * it launches (in short habitual chains, so sequence models have something to learn), the ports
 * it listens on and the hosts it reaches. Seeded, so the same call gives the same events.
 */
export interface SampleClient {
  id: string;
  category: string;
  cores: number;
  memoryGiB: number;
  /** CPU % at night and at the busiest hour. */
  cpu: { idle: number; peak: number };
  /** Memory in use, % of memoryGiB. */
  memoryPercent: number;
  /** UTC hours in which the client works. */
  hours: [number, number];
  /** Habitual chains of programs; a session replays some of them. */
  chains: string[][];
  listens: number[];
  reaches: { host: string; port: number }[];
}

export const sampleClients: readonly SampleClient[] = [
  {
    id: 'webshop',
    category: 'web',
    cores: 4,
    memoryGiB: 8,
    cpu: { idle: 8, peak: 55 },
    memoryPercent: 40,
    hours: [7, 19],
    chains: [['nginx', 'curl', 'tail'], ['vim', 'nginx', 'systemctl'], ['less', 'tail', 'curl'], ['gzip', 'ls']],
    listens: [80, 443],
    reaches: [{ host: 'deb.debian.org', port: 443 }],
  },
  {
    id: 'blog',
    category: 'web',
    cores: 2,
    memoryGiB: 4,
    cpu: { idle: 5, peak: 35 },
    memoryPercent: 35,
    hours: [8, 18],
    chains: [['vim', 'nginx', 'curl'], ['tail', 'less'], ['nginx', 'systemctl', 'curl']],
    listens: [80],
    reaches: [],
  },
  {
    id: 'ledger',
    category: 'database',
    cores: 4,
    memoryGiB: 16,
    cpu: { idle: 15, peak: 70 },
    memoryPercent: 65,
    hours: [6, 22],
    chains: [['psql', 'pg_dump', 'gzip'], ['psql', 'vacuumdb'], ['top', 'psql'], ['less', 'psql']],
    listens: [5432],
    reaches: [],
  },
  {
    id: 'lab',
    category: 'dev',
    cores: 2,
    memoryGiB: 4,
    cpu: { idle: 3, peak: 85 },
    memoryPercent: 45,
    hours: [9, 18],
    chains: [['git', 'make', 'gcc'], ['vim', 'git', 'make'], ['python3', 'git'], ['git', 'vim', 'python3']],
    listens: [22],
    reaches: [{ host: 'github.com', port: 443 }],
  },
];

export interface SampleOptions {
  clients?: readonly SampleClient[];
  days?: number;
  /** End of the sampled period (default: the start of the current UTC hour). */
  endMs?: number;
  seed?: number;
}

const stepMs = 5 * 60 * 1000;

/** The events of every client, oldest first per client. */
export function* sampleTelemetry(options: SampleOptions = {}): Generator<Record<string, unknown>> {
  const days = options.days ?? 14;
  const end = options.endMs ?? Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const start = end - days * 24 * 3_600_000;
  const random = seededRandom(options.seed ?? 1);
  for (const c of options.clients ?? sampleClients) {
    const subject = `client:${c.id}`;
    const common = { subject, category: c.category };
    const memoryTotalBytes = c.memoryGiB * 1024 ** 3;
    for (let t = start; t < end; t += stepMs) {
      const hour = new Date(t).getUTCHours() + new Date(t).getUTCMinutes() / 60;
      const working = hour >= c.hours[0] && hour < c.hours[1];
      // A smooth working-day hump with noise and the odd spike.
      const shape = working ? Math.sin((Math.PI * (hour - c.hours[0])) / (c.hours[1] - c.hours[0])) : 0;
      const spike = random() < 0.01 ? 20 * random() : 0;
      const cpuPercent = clamp(c.cpu.idle + (c.cpu.peak - c.cpu.idle) * shape + (random() - 0.5) * 6 + spike, 0, 100);
      const memoryPercent = clamp(c.memoryPercent + 10 * shape + (random() - 0.5) * 4, 1, 99);
      yield {
        kind: 'resource',
        time: t,
        ...common,
        source: 'hypervisor',
        cpuCores: c.cores,
        cpuPercent: round(cpuPercent),
        memoryBytes: Math.round((memoryTotalBytes * memoryPercent) / 100),
        memoryTotalBytes,
        diskReadBps: Math.round((50 + 400 * shape) * 1024 * (0.5 + random())),
        diskWriteBps: Math.round((20 + 200 * shape) * 1024 * (0.5 + random())),
        netInBps: Math.round((10 + 300 * shape) * 1024 * (0.5 + random())),
        netOutBps: Math.round((20 + 600 * shape) * 1024 * (0.5 + random())),
      };
      if (!working) continue;
      // Launches: a habitual chain now and then during working hours.
      if (random() < 0.35) {
        const chain = c.chains[Math.floor(random() * c.chains.length)]!;
        for (const [i, program] of chain.entries()) {
          yield { kind: 'launch', time: t + 1000 * (i + 1), ...common, source: 'app-log', executable: `/usr/bin/${program}`, user: `${c.id}-ops`, session: `${c.id}-${Math.floor(t / 3_600_000)}` };
        }
      }
      for (const port of c.listens) {
        if (random() < 0.5) yield { kind: 'flow', time: t + 2000, ...common, source: 'hypervisor', direction: 'in', protocol: 'tcp', port, remote: `198.51.100.${1 + Math.floor(random() * 250)}`, bytes: Math.round(random() * 1e6) };
      }
      for (const r of c.reaches) {
        if (random() < 0.1) yield { kind: 'flow', time: t + 3000, ...common, source: 'hypervisor', direction: 'out', protocol: 'tcp', port: r.port, remote: r.host, bytes: Math.round(random() * 5e6) };
      }
    }
  }
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const round = (v: number): number => Math.round(v * 100) / 100;
