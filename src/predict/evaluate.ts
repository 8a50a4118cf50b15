import { AbortedError } from '../core/errors.js';
import type { DatasetFormat } from './dataset-history.js';
import { backtestResources, loadTargetSeries, splitSeries, type ResourceModelResult, type ResourceTarget } from './evaluate-resources.js';
import { backtestSequences, type SequenceModelResult } from './evaluate-sequences.js';
import type { HistorySource } from './history.js';
import { createResourceModel, createSequenceModel, networkSequenceModelIds, resourceModelIds, sequenceModelIds } from './model-catalog.js';
import { createLstmQuantile } from './models/lstm-quantile/lstm-quantile.js';
import type { ResourceModel, TrainingReport } from './models/model.js';

/**
 * `prescient eval`: every model against every baseline on a trace, with chronological splits
 * (the last 20 % of each resource series; commands 4,001–5,000 of each user after 1–4,000),
 * plus a check of the published baselines of the datasets README.
 */
export interface EvaluateOptions {
  history: HistorySource;
  format: DatasetFormat;
  /** Train and score the recurrent network too. */
  network?: boolean;
  targets?: readonly ResourceTarget[];
  horizons?: readonly number[];
  /** Score every n-th origin for multi-step horizons (one-step horizons score every origin). */
  originStride?: number;
  timeBudgetMs?: number;
  signal?: AbortSignal;
  onStep?: (label: string) => void;
  onDetail?: (text: string) => void;
}

export interface ReadmeCheck {
  claim: string;
  published: number;
  measured: number;
  withinOnePoint: boolean;
}

export interface ResourceEvaluation {
  target: ResourceTarget;
  horizonSteps: number;
  reference: string;
  rows: ResourceModelResult[];
}

export interface EvaluationReport {
  dataset: string;
  format: DatasetFormat;
  subjects: number;
  resources: ResourceEvaluation[];
  sequences?: { trainItems: number; testItems: number; blockItems: number; rows: SequenceModelResult[] };
  training: TrainingReport[];
  readme: ReadmeCheck[];
  durationMs: number;
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluationReport> {
  const started = performance.now();
  const step = options.onStep ?? (() => {});
  const detail = options.onDetail ?? (() => {});
  const { history, signal } = options;
  step(`reading ${history.name}`);
  const subjects = await history.subjects(signal);
  const report: EvaluationReport = { dataset: history.name, format: options.format, subjects: subjects.length, resources: [], training: [], readme: [], durationMs: 0 };

  if (options.format === 'commands') {
    const sequences: string[][] = [];
    for (const s of subjects) sequences.push((await history.launches(s.id, signal)).map((e) => e.program));
    const trainItems = 4000;
    const testItems = 1000;
    const models = [...sequenceModelIds, ...(options.network !== false ? networkSequenceModelIds : [])].map(createSequenceModel);
    step(`training and backtesting ${models.length} sequence models on ${sequences.length} users (train 1–${trainItems}, online test ${trainItems + 1}–${trainItems + testItems})`);
    for (const m of models) report.training.push(await m.fit(sequences.map((s) => s.slice(0, trainItems)), { signal, timeBudgetMs: options.timeBudgetMs ?? 280_000, onProgress: detail }));
    const rows = backtestSequences(sequences, models, { trainItems, testItems, blockItems: 100, recallKs: [1, 5, 10, 20, 50], signal });
    report.sequences = { trainItems, testItems, blockItems: 100, rows };
    const row = (id: string): SequenceModelResult => rows.find((r) => r.model === id)!;
    report.readme.push(
      check('Schonlau most-frequent top-1 %', 18.5, 100 * row('most-frequent').top1),
      check('Schonlau most-frequent top-5 %', 45.3, 100 * row('most-frequent').top5),
      check('Schonlau repeat-last top-1 %', 20.9, 100 * row('most-recent').top1),
      check('Schonlau first-order Markov top-1 %', 60.4, 100 * row('markov-1').top1),
      check('Schonlau first-order Markov top-5 %', 88.4, 100 * row('markov-1').top5),
    );
  } else {
    const targets = options.targets ?? ['cpuPercent'];
    const horizons = options.horizons ?? (options.format === 'planetlab' ? [1, 12] : [12, 288]);
    for (const target of targets) {
      const loaded = await loadTargetSeries(history, target, signal);
      const series = loaded.map((l) => l.values);
      if (series.length === 0) continue;
      const models: ResourceModel[] = resourceModelIds.filter((id) => id !== 'lstm-quantile').map(createResourceModel);
      let reference = 'moving-p95-12';
      if (options.network !== false) {
        const trained = horizons.filter((h) => h > 1 && series.some((s) => splitSeries(s, 0.2).train.length > h * 2));
        if (trained.length > 0) {
          const lstm = createLstmQuantile({ horizons: trained });
          step(`training lstm-quantile on ${target} of ${series.length} series (horizons ${trained.join(', ')} steps)`);
          const r = await lstm.fit(series.map((s) => splitSeries(s, 0.2).train), { signal, timeBudgetMs: options.timeBudgetMs ?? 280_000, onProgress: detail });
          report.training.push({ ...r, details: { ...r.details, target } });
          models.unshift(lstm);
          reference = lstm.id;
        }
      }
      for (const horizon of horizons) {
        if (signal?.aborted) throw new AbortedError('evaluation');
        step(`backtesting ${models.length} models on ${target}, horizon ${horizon} step(s)`);
        const rows = backtestResources(series, models, {
          target,
          horizon,
          testFraction: 0.2,
          originStride: horizon === 1 ? 1 : (options.originStride ?? 6),
          targetUnderProvisioning: 0.04,
          signal,
        }, reference);
        report.resources.push({ target, horizonSteps: horizon, reference, rows });
        if (options.format === 'planetlab' && target === 'cpuPercent' && horizon === 1) {
          report.readme.push(
            check('PlanetLab last-value one-step MAE (points)', 5.82, rows.find((r) => r.model === 'last-value')!.mae),
            check('PlanetLab moving average of 12 one-step MAE (points)', 4.66, rows.find((r) => r.model === 'moving-average-12')!.mae),
          );
        }
      }
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

function check(claim: string, published: number, measured: number): ReadmeCheck {
  return { claim, published, measured: Math.round(measured * 100) / 100, withinOnePoint: Math.abs(measured - published) <= 1 };
}
