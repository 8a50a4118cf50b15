import { AbortedError, NotFoundError } from '../core/errors.js';
import type { ResourceTarget } from './evaluate-resources.js';
import { backtestSequences } from './evaluate-sequences.js';
import type { HistorySource, ResourceSeries, Subject } from './history.js';
import { finalFitShare, foldBounds, forecastCandidates, selectForecasts, trainingPart, type ForecastCandidate } from './forecast/forecast-selection.js';
import { calibratedAllocation, pooledExcessMargin } from './forecast/calibrated-allocation.js';
import { createResourceModel, createSequenceModel, networkSequenceModelIds, sequenceModelIds } from './model-catalog.js';
import { saveModelSet, type ModelSet, type Scope, type SubjectProfile } from './model-store.js';
import type { ResourceModel, SavedModel, SequenceModel, TrainingReport } from './models/model.js';
import type { PackageSizes } from './archive-package-sizes.js';
import type { PackageIndex } from './package-index.js';
import { evaluatePackageSets } from './package-set/evaluate-package-set.js';
import { pooledShares } from './package-set/package-set.js';
import { selectBest, type Selection } from './selector.js';
import { windowQuantile } from './window-stats.js';

export interface TrainOptions {
  history: HistorySource;
  /** Folder of the model store (paths(home).models). */
  modelsDir: string;
  scope: Scope;
  packageIndex?: PackageIndex;
  /** What each package costs an image; with the index, the software set for the image is trained and selected. */
  packageSizes?: PackageSizes;
  /** Train the recurrent network too (the baselines and n-gram model always are). */
  network?: boolean;
  /** Wall-clock budget of the whole run; the network stops early (keeping its best epoch) to meet it. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
  onStep?: (label: string) => void;
  onDetail?: (text: string) => void;
}

/** Horizons of the resource forecasts, in 5-minute steps: the next hour and the next day. */
export const resourceHorizons = [12, 288] as const;
const resourceTargetList: readonly ResourceTarget[] = ['cpuPercent', 'memoryPercent'];
const rateMetrics = ['diskReadKBps', 'diskWriteKBps', 'networkInKBps', 'networkOutKBps'] as const;
const testFraction = 0.2;

/**
 * One training run for a scope: choose the resource forecasts by rolling-origin validation
 * inside each subject's history (`selectForecasts`, the rule `eval` uses), backtest the sequence
 * models on the held-out end of each stream (chronological, never shuffled), and store every
 * model with its report, the selections and the scope's profile as a new version.
 */
export async function train(options: TrainOptions): Promise<ModelSet> {
  const started = performance.now();
  const budget = options.timeBudgetMs ?? 280_000;
  const { history, signal, scope } = options;
  const step = options.onStep ?? (() => {});
  const detail = options.onDetail ?? (() => {});
  const check = (): void => {
    if (signal?.aborted) throw new AbortedError('training');
  };

  step(`reading history (${history.name})`);
  const all = await history.subjects(signal);
  const subjects = all.filter((s: Subject) => (scope.kind === 'category' ? s.category === scope.id : s.id === scope.id));
  if (subjects.length === 0) throw new NotFoundError(`no history for ${scope.kind} ${JSON.stringify(scope.id)} in ${history.name}`, { known: [...new Set(all.map((s) => s.category))].slice(0, 20) });
  const series: ResourceSeries[] = [];
  const sequences: string[][] = [];
  for (const s of subjects) {
    check();
    const r = await history.resourceSeries(s.id, signal);
    if (r) series.push(r);
    const l = await history.launches(s.id, signal);
    if (l.length > 0) sequences.push(l.map((e) => e.program));
  }
  detail(`${subjects.length} subjects, ${series.length} resource series, ${sequences.length} launch sequences`);

  const selections: Selection[] = [];
  const reports: TrainingReport[] = [];
  const saved: (SavedModel & { target: string })[] = [];
  const profile: SubjectProfile = { subjects: subjects.length, peaks: {}, rates: {}, programs: [], margins: {}, skill: {}, packages: {} };

  // Resources: every choice by the rolling-origin validation `eval` makes (selectForecasts), on
  // the whole history — train has no test part to keep; its folds are inside what it was given.
  const targets = resourceTargetList.filter((t) => series.some((s) => s[t] && s[t]!.length > resourceHorizons[1] * 2));
  for (const [ti, target] of targets.entries()) {
    const withTarget = series.map((s, i) => ({ s, subject: subjects[i]! })).filter((x) => x.s[target] !== undefined && x.s[target]!.length > 0);
    const values = withTarget.map((x) => x.s[target]!);
    const parts = withTarget.map((x) => trainingPart(x.subject.id, x.subject.category, x.s[target]!, x.s[target]!.length));
    const candidates: ForecastCandidate[] = [...forecastCandidates('percent', resourceHorizons)];
    // The network needs a series longer than its longest horizon in the first validation fold's fitted part.
    if (options.network !== false && values.some((v) => Math.floor(v.length * foldBounds[0][0]) > resourceHorizons[1])) {
      // Three fits (two folds and the final one) share what is left of the budget for this target.
      const fitBudget = (): number => Math.max(5_000, (budget - (performance.now() - started)) / (targets.length - ti) / 3 - 5_000);
      candidates.push({
        id: 'lstm-quantile',
        trained: true,
        create: () => {
          const m = createResourceModel('lstm-quantile');
          return { ...m, fit: (data, fit) => m.fit(data, { ...fit, timeBudgetMs: fitBudget(), onProgress: detail }) };
        },
      });
    }
    step(`choosing the ${target} forecasts by rolling-origin validation (${candidates.length} models, ${values.length} series)`);
    const chosen = await selectForecasts({ parts, horizons: resourceHorizons, unit: 'percent', candidates, ...(signal ? { signal } : {}), onStep: detail });
    const models: ResourceModel[] = [];
    const fitData = values.map((v) => v.slice(0, Math.floor(v.length * finalFitShare)));
    for (const c of candidates) {
      check();
      const m = c.create();
      if (c.trained) {
        step(`fitting ${c.id} on ${target} (${values.length} series)`);
        const fitted = await m.fit(fitData, { ...(signal ? { signal } : {}), onProgress: detail });
        reports.push({ ...fitted, details: { ...fitted.details, target } });
      }
      models.push(m);
    }
    for (const [hi, horizon] of resourceHorizons.entries()) {
      check();
      const chosenHere = chosen[hi]!;
      const key = `${target}@${horizon}`;
      const measured = chosenHere.validation.map((v) => ({ model: v.model, version: models.find((m) => m.id === v.model)!.version, score: v.steps > 0 ? v.pinballP95 : NaN }));
      // selectForecasts owns the rule (lowest validation pinball); this only records it.
      const metric = chosenHere.validated ? 'pinballP95 (rolling-origin validation)' : `none: no training part holds a validation origin ${horizon} steps long; the fallback rule`;
      const sel: Selection = { target: key, metric, better: 'lower', selected: chosenHere.forecastModel, candidates: measured };
      const alloc = chosenHere.validation.find((v) => v.model === chosenHere.allocationModel)!;
      const allocator = models.find((m) => m.id === alloc.model)!;
      // Kept whatever λ: the usage vector shrinks a subject's margin towards it, and gives it whole
      // to a client whose history is too short to calibrate its own (λ = 0 included). Absent when
      // every training subject is that short: such a client then gets no margin, as its category does.
      const pooledMargin = pooledExcessMargin(allocator, values, horizon, alloc);
      sel.allocation = {
        model: alloc.model,
        alpha: alloc.alpha,
        calibrationShare: alloc.calibrationShare,
        shrinkage: alloc.shrinkage,
        ...(pooledMargin !== undefined ? { pooledMargin } : {}),
        validation: { underProvisioningRate: alloc.underProvisioningRate, waste: alloc.waste, subjectsOver10Percent: alloc.subjectsOver10Percent, subjects: alloc.subjects },
        evidence: alloc.evidence,
      };
      selections.push(sel);
      const winner = chosenHere.validation.find((v) => v.model === sel.selected)!;
      const naive = chosenHere.validation.find((v) => v.model === 'last-value')!;
      profile.skill[key] = !chosenHere.validated ? 0.5 : naive.pinballP95 > 0 ? Math.max(0, Math.min(1, 1 - winner.pinballP95 / naive.pinballP95 / 2)) : 0.5;
      const forecaster = models.find((m) => m.id === sel.selected)!;
      // The cold-start answer: medians over the subjects of the forecast, of what the allocation
      // starts from and of each subject's own calibrated margin.
      const ends = values.map((v) => ({ series: v, origins: [v.length], horizon }));
      (profile.peaks[target] ??= {})[horizon] = median(ends.map((q) => forecaster.predict(q)[0]!));
      ((profile.allocationBases ??= {})[target] ??= {})[horizon] = median(ends.map((q) => allocator.predict(q)[0]!));
      (profile.margins[target] ??= {})[horizon] = median(values.map((v) => calibratedAllocation(allocator, v, horizon, sel.allocation!).margin));
    }
    for (const m of models) saved.push({ ...(await m.save()), target });
  }
  for (const metric of rateMetrics) {
    const peaks = series.map((s) => s[metric]).filter((v): v is Float64Array => v !== undefined && v.length > 0).map((v) => windowQuantile(v, v.length - 288, v.length, 0.95));
    if (peaks.length > 0) profile.rates[metric] = median(peaks);
  }
  const caps = series.map((s) => s.capacity).filter((c) => c !== undefined);
  if (caps.length > 0) profile.capacity = { cpuCores: median(caps.map((c) => c.cpuCores)), memoryMiB: median(caps.map((c) => c.memoryMiB)) };

  // Sequences.
  if (sequences.length > 0) {
    const models: SequenceModel[] = [...sequenceModelIds, ...(options.network !== false ? networkSequenceModelIds : [])].map(createSequenceModel);
    step(`training ${models.length} sequence models on ${sequences.length} streams`);
    const trainItems = sequences.map((s) => Math.floor(s.length * (1 - testFraction)));
    const seqBudget = (): number => Math.max(5_000, (budget - (performance.now() - started)) / 3);
    for (const m of models) await m.fit(sequences.map((s, i) => s.slice(0, trainItems[i])), { signal, timeBudgetMs: seqBudget(), onProgress: detail });
    // Per-subject split points differ, so each stream is backtested on its own and pooled.
    const perSubject = sequences.map((s, i) =>
      backtestSequences([s], models, { trainItems: trainItems[i]!, testItems: s.length - trainItems[i]!, blockItems: 100, recallKs: [10], signal }),
    );
    const pooled = models.map((m, j) => {
      let n = 0;
      let top1 = 0;
      let recall = 0;
      for (const r of perSubject) {
        n += r[j]!.predictions;
        top1 += r[j]!.top1 * r[j]!.predictions;
        recall += r[j]!.recallAtK['10']! * r[j]!.predictions;
      }
      return { model: m.id, version: m.version, top1: n ? top1 / n : 0, recall10: n ? recall / n : 0 };
    });
    const next = selectBest('software@next-item', 'top1', 'higher', pooled.map((p) => ({ model: p.model, version: p.version, score: p.top1 })));
    const set = selectBest('software@next-set', 'recall@10', 'higher', pooled.map((p) => ({ model: p.model, version: p.version, score: p.recall10 })));
    selections.push(next, set);
    profile.skill['software@next-item'] = pooled.find((p) => p.model === next.selected)!.top1;
    profile.skill['software@next-set'] = pooled.find((p) => p.model === set.selected)!.recall10;
    // Final models learn from everything (the pooled counts are the cold-start prior).
    for (const m of models) {
      reports.push(await m.fit(sequences, { signal, timeBudgetMs: seqBudget(), onProgress: detail }));
      saved.push({ ...(await m.save()), target: 'software' });
    }
    const counts = new Map<string, number>();
    let total = 0;
    for (const s of sequences) for (const p of s.slice(trainItems[sequences.indexOf(s)])) (counts.set(p, (counts.get(p) ?? 0) + 1), total++);
    profile.programs = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 200).map(([program, c]) => ({ program, share: c / total }));
    if (options.packageIndex) {
      const seen = new Set(sequences.flat());
      for (const p of seen) {
        const pkg = options.packageIndex.packageOf(p);
        if (pkg) profile.packages[p] = pkg;
      }
    }
    if (options.packageIndex && options.packageSizes) {
      check();
      step('choosing the software set for the image (coverage of the next launches against bytes)');
      const index = options.packageIndex;
      const sizes = options.packageSizes;
      // One split point for every stream (the shortest's), so that every subject has origins.
      const split = Math.min(...trainItems);
      const e = evaluatePackageSets({ sequences, packageOf: (p) => index.packageOf(p), bytesOf: (p) => sizes.bytesOf(p), trainItems: split, testItems: Math.min(...sequences.map((s) => s.length)) - split, validationFrom: Math.max(Math.floor(split / 2), split - 2000), stride: 100, signal });
      const day = e.horizons.find((h) => h.horizon === 'day');
      if (day && day.origins > 0 && Number.isFinite(day.chosen.threshold)) {
        const sel = selectBest('software@image-set', 'coverage at half the bytes of every package seen', 'higher', [
          { model: 'package-set', version: '1', score: day.atHalf.packageSet },
          { model: 'most-frequent-programs', version: '1', score: day.atHalf.mostFrequent },
        ]);
        selections.push(sel);
        profile.skill['software@image-set'] = sel.selected === 'package-set' ? day.atHalf.packageSet : day.atHalf.mostFrequent;
        const streams = sequences.map((s) => s.map((p) => profile.packages[p]));
        const prior = Object.fromEntries(pooledShares(streams));
        const bytes: Record<string, number> = {};
        for (const pkg of new Set(Object.values(profile.packages))) {
          const b = sizes.bytesOf(pkg);
          if (b !== undefined) bytes[pkg] = b;
        }
        profile.packageSets = {};
        for (const h of e.horizons) {
          if (h.origins === 0 || !Number.isFinite(h.chosen.threshold)) continue;
          profile.packageSets[h.horizon] = { items: h.items, settings: h.chosen.settings, threshold: h.chosen.threshold, prior, bytes };
        }
      }
    }
  }

  check();
  step('storing the model set');
  return saveModelSet(options.modelsDir, { scope, createdAt: new Date().toISOString(), source: history.name, selections, reports, models: saved, profile });
}

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
