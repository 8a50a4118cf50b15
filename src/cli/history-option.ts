import { Option, type Command } from 'commander';
import { ValidationError } from '../core/errors.js';
import { datasetFormats, datasetHistory, type DatasetFormat } from '../predict/dataset-history.js';
import type { HistorySource } from '../predict/history.js';

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
    .option('--dataset <path>', 'read history from a trace folder instead of the store')
    .addOption(new Option('--format <format>', 'format of --dataset').choices(datasetFormats));
}

export function openHistory(flags: HistoryFlags): { history: HistorySource; format: DatasetFormat } {
  if (!flags.dataset) throw new ValidationError('--dataset', 'give a trace folder with --dataset PATH --format FORMAT (the telemetry store adapter is not wired in yet)');
  if (!flags.format || !(datasetFormats as readonly string[]).includes(flags.format)) throw new ValidationError('--format', `one of ${datasetFormats.join(', ')}`);
  const format = flags.format as DatasetFormat;
  return { history: datasetHistory({ path: flags.dataset, format }), format };
}
