import { Option, type Command } from 'commander';
import { ValidationError } from '../core/errors.js';
import { datasetFormats, datasetHistory, type DatasetFormat } from '../predict/dataset-history.js';
import type { HistorySource } from '../predict/history.js';
import { storeHistory } from '../predict/store-history.js';
import { openPrescient } from '../app/open-prescient.js';
import { existsSync } from 'node:fs';
import { subjectKinds, subjectSchema } from '../contracts/telemetry-event.js';

/**
 * Where prediction commands read history from. Today: a trace folder (--dataset, --format); the
 * store-backed source plugs in here, so train/predict/eval keep one way to choose it.
 */
export interface HistoryFlags {
  dataset?: string;
  format?: string;
}

export function addHistoryOptions(cmd: Command): Command {
  return cmd
    .option('--dataset <path>', 'read history from a trace folder instead of the telemetry store')
    .addOption(new Option('--format <format>', 'format of --dataset').choices(datasetFormats));
}

export interface OpenedHistory {
  history: HistorySource;
  format?: DatasetFormat;
  /**
   * A --client value as the history names it. The store keeps pseudonyms, so there `acme` means
   * the client acme, `vm:17` a VM; a pseudonym (`c_…`) is taken as it is. Traces use their own ids.
   */
  subjectOf(client: string): string;
}

const pseudonymPattern = /^[ucvs]_[A-Za-z0-9_-]{22}$/;

/** The trace folder given by --dataset, else the telemetry store of this installation. */
export async function openHistory(flags: HistoryFlags): Promise<OpenedHistory> {
  if (!flags.dataset) {
    const prescient = await openPrescient();
    const file = prescient.paths.store;
    if (prescient.config.store.kind === 'sqlite' && !existsSync(file)) throw new ValidationError('--dataset', `no telemetry stored yet (${file}); ingest some (prescient ingest, prescient serve) or give a trace folder with --dataset PATH --format FORMAT`);
    const { store, anonymiser } = await prescient.ingestion();
    return {
      history: storeHistory(store, `store:${prescient.config.store.kind === 'sqlite' ? file : 'postgres'}`), // never the URL: it may hold a password
      subjectOf: (client) => {
        if (pseudonymPattern.test(client)) return client;
        // The telemetry wire format's "kind:id"; a bare id is a client.
        const parsed = subjectSchema.safeParse(client.includes(':') ? client : `client:${client}`);
        if (!parsed.success) throw new ValidationError('--client', `expected ID or KIND:ID with KIND one of ${subjectKinds.join(', ')}, got ${JSON.stringify(client)}`);
        return anonymiser.pseudonym(parsed.data.kind, parsed.data.id);
      },
    };
  }
  if (!flags.format || !(datasetFormats as readonly string[]).includes(flags.format)) throw new ValidationError('--format', `one of ${datasetFormats.join(', ')}`);
  const format = flags.format as DatasetFormat;
  return { history: datasetHistory({ path: flags.dataset, format }), format, subjectOf: (client) => client };
}
