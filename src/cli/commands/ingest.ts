import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { categorySchema } from '../../contracts/category.js';
import { eventSources, type EventSource } from '../../contracts/telemetry-event.js';
import { importFiles, importFormats, type ImportFormat } from '../../telemetry/import-files.js';
import { openPrescient } from '../../app/open-prescient.js';
import { addAnonymisationOptions, anonymisationOptions } from '../ingestion-options.js';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import { plural } from '../plural.js';
import { stdinPath } from '../read-input.js';
import type { CommandRegistration } from './command-registration.js';

async function spoolStdin(): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-stdin-'));
  const file = join(dir, 'stdin');
  await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

interface IngestOptions {
  format: ImportFormat;
  source?: EventSource;
  category?: string;
  start?: string;
  batchSize: string;
  ipv4Prefix: string;
  ipv6Prefix: string;
}

export const ingestCommand: CommandRegistration = (program) => {
  const cmd = program
    .command('ingest')
    .description('import telemetry files or folders into the store, anonymised, honouring consent')
    .argument('<path>', 'a file, a folder walked recursively (hidden files and files not of the format are skipped), or - for stdin')
    .addOption(new Option('-f, --format <format>', 'what the files are').choices(importFormats).makeOptionMandatory())
    .addOption(new Option('--source <source>', "where the data was observed (default: the format's)").choices(eventSources))
    .option('--category <slug>', 'category of every subject in these files (e.g. web-frontend)')
    .option('--start <time>', 'commands format: time of the first command (ISO 8601); the n-th is n−1 seconds later', '1970-01-01T00:00:00Z')
    .option('--batch-size <n>', 'records per store transaction', '10000');
  addAnonymisationOptions(cmd)
    .addHelpText(
      'after',
      `
Formats:
  ndjson     TelemetryEvents, one JSON object per line (*.ndjson, *.jsonl)
  otlp       OTLP/HTTP JSON ExportMetricsServiceRequest, one per file or per line (*.json)
  planetlab  CoMon CPU traces: folders named YYYYMMDD, one file per VM, one CPU % per 5 min
  bitbrains  GWA-T-12 traces: one *.csv per VM, ';'-separated, 11 columns
  commands   one program name per line, one file per user (Schonlau's UserN; label.txt skipped)
  csv        documented resource CSV (header: time,subject,category,source,cpu_cores,cpu_percent,
             memory_bytes,memory_total_bytes,disk_read_bps,disk_write_bps,net_in_bps,net_out_bps)

Running it again is safe: an event already stored (same subject, time, source and fields) is
counted as already stored, not stored twice, so an import cut short is finished by running it whole.

Subjects are named after the files (a VM per Bitbrains/PlanetLab file, a user per commands file)
and are stored only as keyed pseudonyms. Data from inside a guest (--source agent) is stored only
for subjects with recorded consent (prescient consent grant). Exit status 2 when every record was
rejected as invalid (nothing stored; usually the wrong --format); rejected records among stored
ones are listed, and the status is 0.

Examples:
  prescient ingest ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains
  prescient ingest ../shared/datasets/planetlab --format planetlab --category planetlab
  prescient ingest ../shared/datasets/schonlau --format commands --start 1998-01-01T00:00:00Z
  prescient ingest events.ndjson --format ndjson --json
  prescient sample-telemetry --days 1 | prescient ingest - --format ndjson`,
    )
    .action(async (path: string, opts: IngestOptions, command: Command) => {
      if (opts.category !== undefined && !categorySchema.safeParse(opts.category).success) throw new ValidationError('--category', 'expected a lower-case slug');
      const startMs = Date.parse(opts.start ?? '');
      if (!Number.isFinite(startMs)) throw new ValidationError('--start', 'expected an ISO 8601 time');
      const batchSize = Number(opts.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValidationError('--batch-size', 'expected a positive integer');
      // stdin is spooled to a private temporary file: every format's reader takes a file.
      const spool = path === stdinPath ? await spoolStdin() : undefined;
      if (spool) path = spool.file;
      const ingestion = await (await openPrescient(anonymisationOptions(opts))).ingestion();
      const progress = createProgress({ quiet: globalOptions(command).quiet === true });
      const started = performance.now();
      try {
        progress.step(`importing ${opts.format} from ${spool ? 'standard input' : path}`);
        const result = await importFiles({
          path,
          format: opts.format,
          ingestor: ingestion.ingestor,
          ...(opts.source === undefined ? {} : { source: opts.source }),
          ...(opts.category === undefined ? {} : { category: opts.category }),
          startMs,
          batchSize,
          signal: cliSignal(),
          onFile: (_f, i, n) => progress.detail(`file ${i + 1}/${n}`),
        });
        const seconds = (performance.now() - started) / 1000;
        progress.done(`${result.accepted} accepted`);
        const records = result.perFile.reduce((n, f) => n + f.records, 0);
        const out = {
          files: result.files,
          records,
          accepted: result.accepted,
          alreadyStored: result.alreadyStored,
          rejected: result.rejected,
          refused: result.refused,
          seconds: Number(seconds.toFixed(3)),
          recordsPerSecond: Math.round(records / seconds),
          errors: result.errors,
        };
        emit(command, out, (v) =>
          [
            `${plural(v.files, 'file')}, ${plural(v.records, 'record')}: ${v.accepted} accepted (${v.accepted - v.alreadyStored} new, ${v.alreadyStored} already stored), ${v.rejected} rejected, ${v.refused} refused for want of consent`,
            `${v.seconds} s (${v.recordsPerSecond} records/s)`,
            ...v.errors.slice(0, 20).map((e) => `  ${e.at}: ${e.reason}`),
            ...(v.rejected + v.refused > 20 ? ['  … (--json lists the first 100)'] : []),
          ].join('\n'),
        );
        // Every record invalid is almost always the wrong --format or file: a script must see it.
        if (out.rejected > 0 && out.accepted === 0 && out.refused === 0) process.exitCode = 2;
      } catch (e) {
        progress.fail((e as Error).message);
        throw e;
      } finally {
        await ingestion.close();
        await spool?.remove();
      }
    });
};
