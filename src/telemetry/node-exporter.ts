import { AppError, TimeoutError } from '../core/errors.js';
import { createCounterRates, type CounterRates } from './counter-rates.js';
import type { ResourceField } from '../contracts/telemetry-event.js';
import { parsePrometheusText, type PromSample } from './formats/prometheus-text.js';

/**
 * Resource samples from a Prometheus node_exporter. Counters (CPU seconds, disk and network
 * bytes) become rates between two scrapes, so the first scrape yields only what gauges tell
 * (memory, cores) plus the baseline; `nodename` comes from node_uname_info.
 */
export interface NodeScrape {
  timeMs: number;
  nodename: string | undefined;
  fields: Partial<Record<ResourceField, number>>;
  /** True once counters had a previous scrape to be compared with. */
  hasRates: boolean;
}

export interface NodeExporterSampler {
  scrape(signal?: AbortSignal): Promise<NodeScrape>;
}

export function createNodeExporterSampler(options: { url: string; timeoutMs?: number; rates?: CounterRates }): NodeExporterSampler {
  const rates = options.rates ?? createCounterRates();
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async scrape(signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let text: string;
      try {
        const res = await fetch(options.url, { signal: combined, headers: { accept: 'text/plain;version=0.0.4' } });
        if (!res.ok) throw new AppError('EXTERNAL_TOOL', `${options.url} answered HTTP ${res.status}`);
        text = await res.text();
      } catch (e) {
        if (timeout.aborted) throw new TimeoutError(`scraping ${options.url}`, timeoutMs);
        if (e instanceof AppError) throw e;
        throw new AppError('EXTERNAL_TOOL', `could not scrape ${options.url}: ${(e as Error).message}`, { cause: e });
      }
      return nodeScrapeFrom(parsePrometheusText(text), Date.now(), rates);
    },
  };
}

const notBusy = new Set(['idle', 'iowait']);

export function nodeScrapeFrom(samples: readonly PromSample[], timeMs: number, rates: CounterRates): NodeScrape {
  const fields: Partial<Record<ResourceField, number>> = {};
  const cpus = new Set<string>();
  let busy = 0;
  let hasRates = false;
  let memTotal: number | undefined;
  let memAvailable: number | undefined;
  let nodename: string | undefined;
  const add = (f: ResourceField, series: string, v: number): void => {
    const r = rates.rate(series, timeMs, v);
    if (r === undefined) return;
    hasRates = true;
    fields[f] = (fields[f] ?? 0) + r;
  };
  for (const s of samples) {
    switch (s.name) {
      case 'node_cpu_seconds_total': {
        const cpu = s.labels.cpu ?? '0';
        cpus.add(cpu);
        const r = rates.rate(`cpu|${cpu}|${s.labels.mode}`, timeMs, s.value);
        if (r !== undefined) {
          hasRates = true;
          if (!notBusy.has(s.labels.mode ?? 'idle')) busy += r;
        }
        break;
      }
      case 'node_memory_MemTotal_bytes':
        memTotal = s.value;
        break;
      case 'node_memory_MemAvailable_bytes':
        memAvailable = s.value;
        break;
      case 'node_disk_read_bytes_total':
        add('diskReadBps', `disk|r|${s.labels.device}`, s.value);
        break;
      case 'node_disk_written_bytes_total':
        add('diskWriteBps', `disk|w|${s.labels.device}`, s.value);
        break;
      case 'node_network_receive_bytes_total':
        if (s.labels.device !== 'lo') add('netInBps', `net|r|${s.labels.device}`, s.value);
        break;
      case 'node_network_transmit_bytes_total':
        if (s.labels.device !== 'lo') add('netOutBps', `net|t|${s.labels.device}`, s.value);
        break;
      case 'node_uname_info':
        nodename = s.labels.nodename;
        break;
    }
  }
  if (cpus.size > 0) {
    fields.cpuCores = cpus.size;
    if (hasRates) fields.cpuPercent = Math.min(100, Math.max(0, (100 * busy) / cpus.size));
  }
  if (memTotal !== undefined) {
    fields.memoryTotalBytes = memTotal;
    if (memAvailable !== undefined) fields.memoryBytes = Math.max(0, memTotal - memAvailable);
  }
  return { timeMs, nodename, fields, hasRates };
}
