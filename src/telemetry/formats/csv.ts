import { ValidationError } from '../../core/errors.js';
import { parseEvent, type EventSource, type ResourceField } from '../../contracts/telemetry-event.js';
import type { RecordResult } from '../record-result.js';
import { readLines } from './line-reader.js';

/**
 * Prescient's documented CSV for resource samples, for exports of monitoring systems that have
 * no format of their own here. Comma separated, UTF-8, a header line naming the columns (any
 * order, unknown columns are an error), no quoting (no value contains a comma):
 *
 *   time,subject,category,source,cpu_cores,cpu_percent,memory_bytes,memory_total_bytes,disk_read_bps,disk_write_bps,net_in_bps,net_out_bps
 *   2024-05-01T10:00:00Z,vm:web-1,web-frontend,hypervisor,4,37.5,2147483648,8589934592,1024,2048,100000,50000
 *
 * `time` (ISO 8601 or epoch milliseconds) and `subject` ("vm:ID", "user:ID", "client:ID") are
 * required; `category` and `source` are optional (source defaults to the import's); every other
 * column is one resource field, in the units of the event model, and may be left empty.
 */
export const csvColumns: Record<string, ResourceField | 'time' | 'subject' | 'category' | 'source'> = {
  time: 'time',
  subject: 'subject',
  category: 'category',
  source: 'source',
  cpu_cores: 'cpuCores',
  cpu_percent: 'cpuPercent',
  memory_bytes: 'memoryBytes',
  memory_total_bytes: 'memoryTotalBytes',
  disk_read_bps: 'diskReadBps',
  disk_write_bps: 'diskWriteBps',
  net_in_bps: 'netInBps',
  net_out_bps: 'netOutBps',
};

export async function* readCsvEvents(path: string, defaults: { source: EventSource }, signal?: AbortSignal): AsyncGenerator<RecordResult> {
  let header: string[] | undefined;
  for await (const { line, lineNo } of readLines(path, signal)) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      const unknown = header.find((h) => !(h in csvColumns));
      if (unknown !== undefined) throw new ValidationError(`${path}:1`, `unknown column ${JSON.stringify(unknown)}; known: ${Object.keys(csvColumns).join(', ')}`);
      for (const required of ['time', 'subject']) if (!header.includes(required)) throw new ValidationError(`${path}:1`, `the header needs a ${required} column`);
      continue;
    }
    const at = `${path}:${lineNo}`;
    if (cells.length !== header.length) {
      yield { ok: false, at, reason: `expected ${header.length} cells, found ${cells.length}` };
      continue;
    }
    const record: Record<string, unknown> = { kind: 'resource', source: defaults.source };
    let bad: string | undefined;
    header.forEach((h, i) => {
      const cell = cells[i]!;
      if (cell === '') return;
      const field = csvColumns[h]!;
      if (field === 'subject' || field === 'category' || field === 'source') record[field] = cell;
      else if (field === 'time') record.time = /^\d+$/.test(cell) ? Number(cell) : cell;
      else {
        const v = Number(cell);
        if (!Number.isFinite(v)) bad ??= `${h}: not a number`;
        record[field] = v;
      }
    });
    if (bad !== undefined) {
      yield { ok: false, at, reason: bad };
      continue;
    }
    const r = parseEvent(record);
    yield r.ok ? { ok: true, event: r.event, at } : { ok: false, at, reason: r.reason };
  }
}

