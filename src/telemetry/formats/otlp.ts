import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { CounterRates } from '../counter-rates.js';
import { categorySchema } from '../../contracts/category.js';
import { describeIssues, eventSources, parseEvent, subjectKinds, type EventSource, type ResourceField, type Subject } from '../../contracts/telemetry-event.js';
import type { RecordResult } from '../record-result.js';

/**
 * OTLP/HTTP JSON metrics (ExportMetricsServiceRequest) → resource samples. Understands the host
 * metrics of the OpenTelemetry Collector's hostmetrics receiver (`state`, `cpu`, `direction`,
 * `device` attributes) and of the JS `@opentelemetry/host-metrics` package (`system.cpu.state`,
 * `system.cpu.logical_number`, `network.io.direction`, `system.device`…). Points of one resource
 * at one timestamp become one sample. Other metrics are ignored, not rejected.
 *
 * The subject comes from resource attributes: `prescient.subject` ("vm:ID"), else `host.name`,
 * else `host.id` (as a VM). `prescient.category` and `prescient.source` are optional; the source
 * defaults to `agent`, since host metrics are usually collected inside the machine.
 */
export interface OtlpDecoded {
  results: RecordResult[];
  rejectedDataPoints: number;
}

const anyValue = z
  .object({
    stringValue: z.string().optional(),
    intValue: z.union([z.string(), z.number()]).optional(),
    doubleValue: z.union([z.number(), z.string()]).optional(),
    boolValue: z.boolean().optional(),
  })
  .loose();
const attributes = z.array(z.object({ key: z.string(), value: anyValue.optional() }).loose()).optional();
const int64 = z.union([z.string(), z.number(), z.object({ low: z.number(), high: z.number() })]);
const dataPoint = z
  .object({
    attributes,
    startTimeUnixNano: int64.optional(),
    timeUnixNano: int64.optional(),
    asDouble: z.union([z.number(), z.string()]).optional(),
    asInt: z.union([z.string(), z.number()]).optional(),
  })
  .loose();
const metric = z
  .object({
    name: z.string(),
    gauge: z.object({ dataPoints: z.array(dataPoint).optional() }).loose().optional(),
    sum: z.object({ dataPoints: z.array(dataPoint).optional(), aggregationTemporality: z.union([z.number(), z.string()]).optional() }).loose().optional(),
  })
  .loose();
export const otlpMetricsRequestSchema = z
  .object({
    resourceMetrics: z
      .array(
        z
          .object({
            resource: z.object({ attributes }).loose().optional(),
            scopeMetrics: z.array(z.object({ metrics: z.array(metric).optional() }).loose()).optional(),
          })
          .loose(),
      )
      .optional(),
  })
  .loose();
export type OtlpMetricsRequest = z.infer<typeof otlpMetricsRequestSchema>;

type Attrs = Record<string, string | number | boolean>;

function attrsOf(list: z.infer<typeof attributes>): Attrs {
  const out: Attrs = {};
  for (const a of list ?? []) {
    const v = a.value;
    if (!v) continue;
    if (v.stringValue !== undefined) out[a.key] = v.stringValue;
    else if (v.intValue !== undefined) out[a.key] = Number(v.intValue);
    else if (v.doubleValue !== undefined) out[a.key] = Number(v.doubleValue);
    else if (v.boolValue !== undefined) out[a.key] = v.boolValue;
  }
  return out;
}

function nanosToMs(v: z.infer<typeof int64> | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'object') return Number((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)) / 1e6;
  if (typeof v === 'number') return v / 1e6;
  if (!/^\d+$/.test(v)) return undefined;
  return Number(BigInt(v) / 1000n) / 1000;
}

const pick = (a: Attrs, ...keys: string[]): string | undefined => {
  for (const k of keys) if (a[k] !== undefined) return String(a[k]);
  return undefined;
};
const cpuState = (a: Attrs) => pick(a, 'system.cpu.state', 'cpu.mode', 'state');
const cpuNumber = (a: Attrs) => pick(a, 'system.cpu.logical_number', 'cpu.logical_number', 'cpu');
const memState = (a: Attrs) => pick(a, 'system.memory.state', 'state');
const direction = (a: Attrs) => pick(a, 'network.io.direction', 'disk.io.direction', 'direction');
const device = (a: Attrs) => pick(a, 'system.device', 'device');
/** States that are not work: idle, and waiting for I/O. */
const notBusy = new Set(['idle', 'wait', 'iowait']);
const totalMemoryStates = new Set(['used', 'free', 'buffered', 'cached']);

/** What one resource reported at one timestamp, before it becomes a sample. */
interface Moment {
  cpus: Set<string>;
  busyUtil: number;
  sawUtil: boolean;
  busyRate: number;
  sawBusyRate: boolean;
  cpuCores?: number;
  memUsed?: number;
  memTotal: number;
  sawMemTotal: boolean;
  memLimit?: number;
  rates: Partial<Record<ResourceField, number>>;
}

/**
 * Data points one request may carry, whatever its encoding. A hostmetrics batch of a thousand
 * hosts is ~100,000; the bound is what keeps a small body of empty points from becoming millions
 * of objects (a protobuf empty point is 2 bytes).
 */
export const defaultMaxDataPoints = 200_000;

export function tooManyDataPoints(maxDataPoints: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `body: more than ${maxDataPoints} data points in one request; send smaller batches`, {
    details: { field: 'body', rule: 'max-data-points', maxDataPoints },
  });
}

const pointKinds = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;

/** Counted on the parsed JSON before zod copies it, without trusting its shape. */
function countJsonDataPoints(body: unknown, maxDataPoints: number): void {
  const list = (v: unknown, key: string): unknown[] => {
    const x = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    return Array.isArray(x) ? x : [];
  };
  let count = 0;
  for (const rm of list(body, 'resourceMetrics'))
    for (const sm of list(rm, 'scopeMetrics'))
      for (const m of list(sm, 'metrics'))
        for (const kind of pointKinds) {
          const data = m !== null && typeof m === 'object' ? (m as Record<string, unknown>)[kind] : undefined;
          count += list(data, 'dataPoints').length;
          if (count > maxDataPoints) throw tooManyDataPoints(maxDataPoints);
        }
}

/**
 * One ExportMetricsServiceRequest in the OTLP JSON mapping (as sent, or as decodeOtlpProtobuf
 * makes it from protobuf) → resource samples. Throws PAYLOAD_TOO_LARGE over `maxDataPoints`.
 */
export function decodeOtlpMetrics(body: unknown, rates: CounterRates, defaults: { source?: EventSource; maxDataPoints?: number } = {}): OtlpDecoded {
  const checked = checkOtlpMetrics(body, defaults.maxDataPoints);
  if ('invalid' in checked) return { results: [{ ok: false, at: 'body', reason: checked.invalid }], rejectedDataPoints: 0 };
  return mapOtlpMetrics(checked.request, rates, defaults);
}

/** What a request is, or why it is not one, before any sample is made: the stateless, heavy part (a decoding thread runs it). */
export type CheckedOtlpRequest = { request: OtlpMetricsRequest } | { invalid: string };

/** A parsed OTLP JSON body validated (zod) into the typed request; PAYLOAD_TOO_LARGE over `maxDataPoints`. */
export function checkOtlpMetrics(body: unknown, maxDataPoints = defaultMaxDataPoints): CheckedOtlpRequest {
  countJsonDataPoints(body, maxDataPoints);
  const parsed = otlpMetricsRequestSchema.safeParse(body);
  return parsed.success ? { request: parsed.data } : { invalid: describeIssues(parsed.error) };
}

/**
 * The one mapping of an ExportMetricsServiceRequest to samples, from the typed request: what zod
 * made of a JSON body, or what decodeOtlpProtobuf picked from a protobuf one (whose types the
 * wire decoder guarantees, so it is not parsed twice).
 */
export function mapOtlpMetrics(request: OtlpMetricsRequest, rates: CounterRates, defaults: { source?: EventSource } = {}): OtlpDecoded {
  const results: RecordResult[] = [];
  let rejectedDataPoints = 0;
  (request.resourceMetrics ?? []).forEach((rm, ri) => {
    const ra = attrsOf(rm.resource?.attributes);
    const allPoints = (rm.scopeMetrics ?? []).flatMap((sm) => sm.metrics ?? []).reduce((n, m) => n + (m.gauge?.dataPoints?.length ?? 0) + (m.sum?.dataPoints?.length ?? 0), 0);
    const who = subjectOf(ra, defaults.source ?? 'agent');
    if (typeof who === 'string') {
      rejectedDataPoints += allPoints;
      results.push({ ok: false, at: `resourceMetrics ${ri}`, reason: who });
      return;
    }
    const key = `${who.subject.kind}:${who.subject.id}`;
    const moments = new Map<number, Moment>();
    const momentAt = (t: number): Moment => {
      let m = moments.get(t);
      if (!m) moments.set(t, (m = { cpus: new Set(), busyUtil: 0, sawUtil: false, busyRate: 0, sawBusyRate: false, memTotal: 0, sawMemTotal: false, rates: {} }));
      return m;
    };
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const points = metric.gauge?.dataPoints ?? metric.sum?.dataPoints ?? [];
        const delta = metric.sum !== undefined && Number(metric.sum.aggregationTemporality) === 1;
        points.forEach((p, pi) => {
          const t = nanosToMs(p.timeUnixNano);
          const raw = p.asDouble ?? p.asInt;
          const v = raw === undefined ? NaN : Number(raw);
          if (!interesting.has(metric.name)) return;
          if (t === undefined || !Number.isFinite(v) || v < 0) {
            rejectedDataPoints++;
            results.push({ ok: false, at: `resourceMetrics ${ri} ${metric.name} dataPoint ${pi}`, reason: t === undefined ? 'timeUnixNano: missing or not an integer' : 'value: expected a non-negative number in asDouble or asInt' });
            return;
          }
          const a = attrsOf(p.attributes);
          const ms = Math.round(t);
          // Cumulative counters need the previous point; a delta carries its own interval.
          const perSecond = (series: string): number | undefined => {
            if (!delta) return rates.rate(`${key}|${metric.name}|${series}`, t, v);
            const start = nanosToMs(p.startTimeUnixNano);
            return start !== undefined && t > start ? v / ((t - start) / 1000) : undefined;
          };
          const m = momentAt(ms);
          switch (metric.name) {
            case 'system.cpu.utilization': {
              const cpu = cpuNumber(a) ?? '0';
              m.cpus.add(cpu);
              m.sawUtil = true;
              if (!notBusy.has(cpuState(a) ?? 'idle')) m.busyUtil += v;
              break;
            }
            case 'system.cpu.time': {
              const cpu = cpuNumber(a) ?? '0';
              const state = cpuState(a) ?? 'idle';
              m.cpus.add(cpu);
              const r = perSecond(`${cpu}|${state}`);
              if (r !== undefined) {
                m.sawBusyRate = true;
                if (!notBusy.has(state)) m.busyRate += r;
              }
              break;
            }
            case 'system.cpu.logical.count':
              m.cpuCores = v;
              break;
            case 'system.memory.usage': {
              const state = memState(a);
              if (state === 'used') m.memUsed = v;
              if (state !== undefined && totalMemoryStates.has(state)) {
                m.memTotal += v;
                m.sawMemTotal = true;
              }
              break;
            }
            case 'system.memory.limit':
              m.memLimit = v;
              break;
            case 'system.disk.io':
            case 'system.network.io': {
              const dev = device(a) ?? '';
              if (metric.name === 'system.network.io' && dev === 'lo') break; // loopback is not traffic of the machine
              const dir = direction(a);
              const field: ResourceField | undefined =
                metric.name === 'system.disk.io'
                  ? dir === 'read' ? 'diskReadBps' : dir === 'write' ? 'diskWriteBps' : undefined
                  : dir === 'receive' ? 'netInBps' : dir === 'transmit' ? 'netOutBps' : undefined;
              if (field === undefined) break;
              const r = perSecond(`${dev}|${dir}`);
              if (r !== undefined) m.rates[field] = (m.rates[field] ?? 0) + r;
              break;
            }
          }
        });
      }
    }
    for (const [time, m] of [...moments].sort((x, y) => x[0] - y[0])) {
      const fields: Partial<Record<ResourceField, number>> = { ...m.rates };
      if (m.sawUtil && m.cpus.size > 0) fields.cpuPercent = clampPercent((100 * m.busyUtil) / m.cpus.size);
      else if (m.sawBusyRate && m.cpus.size > 0) fields.cpuPercent = clampPercent((100 * m.busyRate) / m.cpus.size);
      if (m.memUsed !== undefined) fields.memoryBytes = m.memUsed;
      if (m.memLimit !== undefined) fields.memoryTotalBytes = m.memLimit;
      else if (m.sawMemTotal) fields.memoryTotalBytes = m.memTotal;
      if (m.cpuCores !== undefined) fields.cpuCores = m.cpuCores;
      // A moment with nothing but baselines (first points of counters) is no sample yet.
      if (Object.keys(fields).length === 0) continue;
      if (fields.cpuCores === undefined && m.cpus.size > 0) fields.cpuCores = m.cpus.size;
      const sample = { kind: 'resource', time, subject: who.subject, source: who.source, ...(who.category ? { category: who.category } : {}), ...fields };
      const r = parseEvent(sample);
      results.push(r.ok ? { ok: true, event: r.event, at: `resourceMetrics ${ri} t=${time}` } : { ok: false, at: `resourceMetrics ${ri} t=${time}`, reason: r.reason, source: who.source });
    }
  });
  return { results, rejectedDataPoints };
}

const interesting = new Set([
  'system.cpu.utilization',
  'system.cpu.time',
  'system.cpu.logical.count',
  'system.memory.usage',
  'system.memory.limit',
  'system.disk.io',
  'system.network.io',
]);

function clampPercent(p: number): number {
  return Math.min(100, Math.max(0, p));
}

function subjectOf(a: Attrs, defaultSource: EventSource): { subject: Subject; source: EventSource; category?: string } | string {
  let subject: Subject | undefined;
  const explicit = a['prescient.subject'];
  if (typeof explicit === 'string') {
    const i = explicit.indexOf(':');
    const kind = explicit.slice(0, i) as Subject['kind'];
    if (i <= 0 || !subjectKinds.includes(kind) || i === explicit.length - 1) return 'resource attribute prescient.subject: expected "user:ID", "client:ID" or "vm:ID"';
    subject = { kind, id: explicit.slice(i + 1) };
  } else {
    const host = a['host.name'] ?? a['host.id'];
    if (host !== undefined && String(host) !== '') subject = { kind: 'vm', id: String(host) };
  }
  if (!subject) return 'resource: no prescient.subject, host.name or host.id attribute to tell whose metrics these are';
  const source = a['prescient.source'] ?? defaultSource;
  if (!eventSources.includes(source as EventSource)) return `resource attribute prescient.source: expected one of ${eventSources.join(', ')}`;
  const category = a['prescient.category'];
  if (category !== undefined && !categorySchema.safeParse(category).success) return 'resource attribute prescient.category: expected a lower-case slug';
  return { subject, source: source as EventSource, ...(category === undefined ? {} : { category: String(category) }) };
}
