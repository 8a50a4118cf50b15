import { Option, type Command } from 'commander';
import { ValidationError } from '../core/errors.js';
import { datasetFormats, datasetHistory, type DatasetFormat } from '../predict/dataset-history.js';
import type { HistorySource } from '../predict/history.js';
import { storeHistory } from '../predict/store-history.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { paths } from '../core/config.js';
import { existsSync } from 'node:fs';

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

/** The trace folder given by --dataset, else the telemetry store of this installation. */
export function openHistory(flags: HistoryFlags): { history: HistorySource; format?: DatasetFormat } {
  if (!flags.dataset) {
    const file = paths().store;
    if (!existsSync(file)) throw new ValidationError('--dataset', `no telemetry stored yet (${file}); ingest some (prescient ingest, prescient serve) or give a trace folder with --dataset PATH --format FORMAT`);
    return { history: storeHistory(openSqliteStore({ file }), `store:${file}`) };
  }
  if (!flags.format || !(datasetFormats as readonly string[]).includes(flags.format)) throw new ValidationError('--format', `one of ${datasetFormats.join(', ')}`);
  const format = flags.format as DatasetFormat;
  return { history: datasetHistory({ path: flags.dataset, format }), format };
}
