/**
 * What the allocation benches (allocation-rule, allocation-rule-subject, selection-folds) share:
 * the Bitbrains month they validate on, each VM's training part as `eval`'s split by time cuts it
 * (its first 80 %; no test part is read), the horizons and the figures' format.
 */
import { existsSync } from 'node:fs';
import { datasetHistory } from '../../src/predict/dataset-history.js';
import { loadTargetSeries } from '../../src/predict/evaluate-resources.js';
import { trainingPart, type TrainingPart } from '../../src/predict/forecast/forecast-selection.js';
import type { AllocationSummary } from '../../src/predict/forecast/subject-allocation.js';
import { datasetPath } from '../../test/support/datasets.js';

const folder = datasetPath('bitbrains-rnd-2013-7');

/** Ends the bench with a message naming the folder when the dataset is absent. */
export function requireBitbrains(): void {
  if (existsSync(folder)) return;
  console.log(`skipped: needs ${folder}`);
  process.exit(0);
}

/** Every VM's training part of `target`, in the dataset's order. */
export async function bitbrainsTrainingParts(target: 'cpuPercent' | 'memoryPercent'): Promise<TrainingPart[]> {
  const loaded = await loadTargetSeries(datasetHistory({ path: folder, format: 'bitbrains' }), target);
  return loaded.map((l) => trainingPart(l.id, 'bitbrains', l.values, Math.floor(l.values.length * 0.8)));
}

export const benchHorizons = [12, 288];
/**
 * Selection's two rolling-origin folds (`foldBounds`) and an earlier one before them, which
 * exists only in these benches: pick with folds 1–2, score on fold 3, a week selection did not see.
 */
export const foldsWithEarlier = [
  [0.4, 0.55, 0.7],
  [0.55, 0.7, 0.85],
  [0.7, 0.85, 1],
] as const;
export const pct = (x: number): string => (100 * x).toFixed(1);
/** Steps above the allocation / VMs > 10 % under / waste. */
export const allocationText = (f: AllocationSummary): string => `${pct(f.underProvisioningRate)} % / ${f.subjectsOver10Percent}/${f.subjects} / ${f.waste.toFixed(2)}`;
