/**
 * Can a chooser learnt *across* VMs pick, per VM and origin, the next-day candidate whose next day
 * costs least? Feature-based model selection in the manner of FFORMS (Talagala, Hyndman &
 * Athanasopoulos 2018), checked on the Bitbrains training parts only (the first 80 % of each VM,
 * as `eval`'s split by time cuts it; no test part is read). Prompted by the selection-folds
 * bench's per-VM hindsight bound (itself on validation): the best of the 13 candidates per VM in
 * hindsight is 0.603×/0.830× (CPU, F3/F4) and 0.806×/0.786× (memory) of the best rule, while the
 * per-VM choosers by each VM's own recent losses tried before reached 0.978× at best.
 *
 *   bash scripts/bench day-chooser      (needs ../shared/datasets; --cpu-only / --memory-only)
 *
 * PRE-REGISTERED (written before any figure of this bench existed; not changed after):
 * - The next-day forecast is one number held for 288 steps, charged the pinball at p95 against
 *   each of them. Candidates: today's 13 (`forecastCandidates`: ten rules, pooled-quantile,
 *   pooled-median, pooled-median-5). Origins every 24 steps (`strideFor(288)`), on one grid per VM
 *   and fold aligned on the fold's calibration end, so the validation origins are exactly
 *   `validateCandidates`'.
 * - Folds of a training part of length L, (fit end a, calibration end b, validation end c)·L:
 *   F3 = (0.55, 0.7, 0.85) and F4 = (0.7, 0.85, 1). Per fold, the learnt candidates are fitted on
 *   every VM's [0, aL) (as `validateCandidates` does) and forecast the calibration and validation
 *   origins.
 * - The chooser's training rows: every VM's origins t ≥ 288 with t + 288 ≤ aL (the next day
 *   inside the fitted part; never the calibration or validation slice). At those origins the learnt
 *   candidates' forecasts are *cross-fitted*: the VMs sorted by id alternate into two groups, and a
 *   VM's learnt forecasts come from the candidates fitted on the other group's [0, aL), so no label
 *   is an in-sample forecast. The rules need no fit.
 * - Features at origin t (from the VM's series before t and the candidates' forecasts at t only):
 *   of the daily p95s of the last 7 days (days ending at t), the share ≥ 90 and the share ≤ 10,
 *   the switching rate (share of consecutive days whose p95 differ by ≥ 40 points), the last day's
 *   p95, the 7 days' mean and their max − min; lag-1 and lag-7 autocorrelation of the daily p95 of
 *   the last 14 days (0 when fewer than 3 / 9 days); the spread (max − min) of the 13 forecasts;
 *   each candidate's forecast minus the median of the 13; each candidate's mean pinball over its
 *   last (up to) 3 completed next days (origins t − 288, t − 576, t − 864) minus the 13's mean, and
 *   that mean; how many such days there were; days of history. Category: Bitbrains has one, so it
 *   is not a feature here.
 * - Labels: each candidate's next-day pinball minus the mean of the 13 at that origin (the argmin
 *   is unchanged by the shared offset; the VM's level drops out). One regression per candidate,
 *   least-squares gradient-boosted trees (expected loss is what a sum over VMs charges; 100 trees,
 *   depth 3, learning rate 0.1, ≥ 200 rows a leaf, 32 quantile bins, no subsampling), pooled over
 *   every VM. The chooser forecasts, at each origin, the candidate whose predicted loss is lowest.
 * - Scored on the validation slice [bL, cL) of F4 and, shifted, of F3: pinball at p95 of the
 *   chosen forecasts, as a ratio to the best of the ten rules on that fold. Beside it: the best rule,
 *   pooled-median, pooled-median-5, the best of the 13 on that fold, the per-VM hindsight bound
 *   (each VM's lowest-pinball candidate on that slice). For each row, the VMs above 10 % under at
 *   the *pooled* margin: one conformal margin at α = 5 % over every VM's excess at its calibration
 *   origins (grid origins t ≥ bL − 0.15L with t + 288 ≤ bL; the hindsight row uses each VM's
 *   hindsight candidate there too), added to every forecast.
 * - Verdict: "useful" only if on **both** folds and **both** resources the chooser's ratio is ≤
 *   the best of the 13 candidates' on that fold, and ≤ 0.9× on at least one. Else "not useful",
 *   and nothing changes in the product.
 * Deterministic: the learnt candidates are gradient-free, the rules have no randomness, the
 * trees use every row.
 * ADDED AFTER THE FIRST RUN (a diagnostic, not part of the verdict): the same ratio on the
 * chooser's own training rows (in sample, against the best rule on those rows), to tell "the
 * features do not say which candidate wins" from "what they said in the fitted weeks does not hold";
 * and the same weeks across VMs (fit the chooser on one VM group's training rows, pick on the
 * other group's, both ways), which is what "learnt across VMs" asks of it without a change of weeks;
 * once more without the days-of-history feature (the calendar day here, shared by both groups).
 * SECOND PRE-REGISTRATION (2026-12-02, written after the first verdict and its diagnostics — in
 * sample 0.70–0.73×, across VM groups in the same weeks 0.75–0.79×, on the validation week
 * 0.99–1.80× — and before any figure of these two variants existed; not changed after). Does the
 * chooser hold when it learns from the weeks just before the validation slice? Two variants, each
 * differing from the first design *only* in which origins are its training rows (features, trees,
 * labels, folds, scoring, pooled margin and candidates as above; picks at the calibration and
 * validation origins from the all-VM fits' forecasts, as above):
 * - (R) recent: the grid origins t with t ≥ aL − 7·288 and t + 288 ≤ aL (aL read as ⌊a·L⌋ per
 *   VM: each row's next day lies inside the last 7 days of the fitted part, [aL − 7 d, aL)), of
 *   every VM; the learnt candidates' forecasts there cross-fitted by VM group as in the first design.
 * - (C) calibration: the grid origins t with t ≥ aL and t + 288 ≤ bL (the calibration slice's
 *   origins whose next day ends by bL), of every VM; forecasts and labels from the candidates
 *   fitted on every VM's [0, aL), the same forecasts the chooser picks from at validation. No
 *   cross-fitting is needed because that is not in-sample: those candidates never saw [aL, bL),
 *   so each label is an out-of-sample forecast's loss, as at validation; and no row's next day
 *   reaches bL, where the scored slice begins. (Two things of [aL, bL) are shared with the
 *   scoring, said here: the pooled margin's calibration origins are these same rows, so the
 *   chooser's calibration picks are in sample and C's steps-above / VMs / waste figures are
 *   optimistic — the verdict reads the pinball only; and a row's recent-loss features in its
 *   first 3 days read losses at origins before aL, forecast by the fits that saw them.)
 * Verdict per variant by the first rule: "useful" only if on both folds and both resources its
 * ratio is ≤ the best of the 13 candidates' on that fold, and ≤ 0.9× on at least one. Run once;
 * nothing tuned after seeing. Either way nothing in the product changes this session.
 */
import { forecastCandidates, range, strideFor, type ForecastCandidate, type TrainingPart } from '../src/predict/forecast/forecast-selection.js';
import { AllocationTally, boundsOf, conformalMargin, mergeExcess, sortedExcess, type AllocationSummary } from '../src/predict/forecast/subject-allocation.js';
import { peakQuantile, pinball } from '../src/predict/metrics.js';
import { binFeatures, growTree, predictTree, type BinnedFeatures, type RegressionTree } from '../src/predict/forecast/regression-tree.js';
import { windowQuantile } from '../src/predict/window-stats.js';
import { bitbrainsTrainingParts, pct, requireBitbrains } from './support/bitbrains-validation.js';

requireBitbrains();
const day = 288;
const horizon = day;
const stride = strideFor(horizon);
const folds = [
  { name: 'F3', bounds: [0.55, 0.7, 0.85] },
  { name: 'F4', bounds: [0.7, 0.85, 1] },
] as const;
const alpha = 0.05;
const calibrationShare = 0.15;
const trees = { trees: 100, depth: 3, learningRate: 0.1, minLeafRows: 200, bins: 32 } as const;
const targets = process.argv.includes('--memory-only') ? (['memoryPercent'] as const) : process.argv.includes('--cpu-only') ? (['cpuPercent'] as const) : (['cpuPercent', 'memoryPercent'] as const);

/** One VM on one fold: its grid of origins, the candidates' forecasts and next-day losses on it. */
interface VmFold {
  part: TrainingPart;
  group: number;
  seen: Float64Array;
  grid: number[];
  /** Per candidate, per grid index: forecasts by the models fitted on every VM (calibration and validation). */
  forecast: Float64Array[];
  loss: Float64Array[];
  /** The same at the training origins (grid indices < trainCount), the learnt ones cross-fitted. */
  trainForecast: Float64Array[];
  trainLoss: Float64Array[];
  trainCount: number;
  /** ⌊a·L⌋: where the fold's fitted part ends. */
  aEnd: number;
  calFrom: number;
  calTo: number;
  valFrom: number;
}

function nextDayLoss(s: Float64Array, t: number, f: number): number {
  let sum = 0;
  for (let h = 0; h < horizon; h++) sum += pinball(s[t + h]!, f, peakQuantile);
  return sum / horizon;
}

async function fitted(cands: readonly ForecastCandidate[], data: Float64Array[]): Promise<ReturnType<ForecastCandidate['create']>[]> {
  return Promise.all(cands.map(async (c) => {
    const m = c.create();
    if (c.trained) await m.fit(data);
    return m;
  }));
}

async function prepareFold(parts: readonly TrainingPart[], cands: readonly ForecastCandidate[], [a, b, c]: readonly [number, number, number]): Promise<VmFold[]> {
  const sorted = [...parts].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const groupOf = new Map(sorted.map((p, i) => [p.id, i % 2]));
  const fitPart = (p: TrainingPart): Float64Array => p.values.slice(0, Math.floor(p.values.length * a));
  const all = await fitted(cands, parts.map(fitPart));
  const byGroup = [
    await fitted(cands, parts.filter((p) => groupOf.get(p.id) === 1).map(fitPart)),
    await fitted(cands, parts.filter((p) => groupOf.get(p.id) === 0).map(fitPart)),
  ];
  const out: VmFold[] = [];
  for (const part of parts) {
    const L = part.values.length;
    const [aEnd, calEnd, valEnd] = [Math.floor(L * a), Math.floor(L * b), Math.floor(L * c)];
    if (calEnd < day || valEnd - horizon < calEnd) continue;
    const first = calEnd - stride * Math.floor((calEnd - day) / stride);
    const grid = range(first, valEnd - horizon, stride);
    const seen = part.values.subarray(0, valEnd);
    const forecast = all.map((m) => m.predict({ series: seen, origins: grid, horizon }));
    const loss = forecast.map((f) => Float64Array.from(grid, (t, k) => nextDayLoss(seen, t, f[k]!)));
    const trainCount = grid.filter((t) => t + horizon <= aEnd).length;
    const group = groupOf.get(part.id)!;
    const trainSeries = part.values.subarray(0, aEnd);
    const trainOrigins = grid.slice(0, trainCount);
    const trainForecast = cands.map((cand, ci) => (cand.trained ? byGroup[group]![ci]!.predict({ series: trainSeries, origins: trainOrigins, horizon }) : forecast[ci]!.slice(0, trainCount)));
    const trainLoss = trainForecast.map((f) => Float64Array.from(trainOrigins, (t, k) => nextDayLoss(trainSeries, t, f[k]!)));
    const calStart = calEnd - Math.floor(L * calibrationShare);
    out.push({
      part,
      group,
      seen,
      grid,
      forecast,
      loss,
      trainForecast,
      trainLoss,
      trainCount,
      aEnd,
      calFrom: grid.findIndex((t) => t >= calStart),
      calTo: grid.filter((t) => t + horizon <= calEnd).length,
      valFrom: grid.findIndex((t) => t >= calEnd),
    });
  }
  return out;
}

function autocorrelation(x: readonly number[], lag: number): number {
  if (x.length <= lag) return 0;
  const m = x.reduce((s, v) => s + v, 0) / x.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) den += (x[i]! - m) ** 2;
  for (let i = 0; i + lag < x.length; i++) num += (x[i]! - m) * (x[i + lag]! - m);
  return den > 0 ? num / den : 0;
}

/** The pre-registered features at grid index k, from the series before grid[k] and the forecasts at it. */
function features(s: Float64Array, grid: readonly number[], k: number, forecast: readonly Float64Array[], loss: readonly Float64Array[]): number[] {
  const t = grid[k]!;
  const daily: number[] = []; // oldest first
  for (let j = 13; j >= 0; j--) if (t - day * (j + 1) >= 0) daily.push(windowQuantile(s, t - day * (j + 1), t - day * j, peakQuantile));
  const week = daily.slice(-7);
  let switches = 0;
  for (let i = 1; i < week.length; i++) if (Math.abs(week[i]! - week[i - 1]!) >= 40) switches++;
  const fs = forecast.map((f) => f[k]!);
  const med = [...fs].sort((x, y) => x - y)[fs.length >> 1]!;
  const lagged = [1, 2, 3].map((j) => k - (day / stride) * j).filter((i) => i >= 0);
  const recent = loss.map((l) => (lagged.length ? lagged.reduce((x, i) => x + l[i]!, 0) / lagged.length : 0));
  const recentMean = recent.reduce((x, v) => x + v, 0) / recent.length;
  return [
    week.filter((v) => v >= 90).length / week.length,
    week.filter((v) => v <= 10).length / week.length,
    week.length > 1 ? switches / (week.length - 1) : 0,
    week[week.length - 1]!,
    week.reduce((x, v) => x + v, 0) / week.length,
    Math.max(...week) - Math.min(...week),
    daily.length >= 3 ? autocorrelation(daily, 1) : 0,
    daily.length >= 9 ? autocorrelation(daily, 7) : 0,
    Math.max(...fs) - Math.min(...fs),
    ...fs.map((f) => f - med),
    ...recent.map((r) => r - recentMean),
    recentMean,
    lagged.length,
    t / day,
  ];
}

/**
 * Least-squares gradient-boosted regression trees on quantile-binned features (Friedman 2001):
 * each tree fits the residuals by the split that most reduces their squared error, each leaf is
 * the mean residual of its rows. Expected loss, not a quantile of it, is what a sum charges.
 */
class BinnedRows {
  readonly features: BinnedFeatures;
  constructor(
    readonly X: Float64Array,
    readonly d: number,
    readonly rows: number,
  ) {
    // Thresholds from every row's value (not a sample): the chooser's rows are few.
    this.features = binFeatures(X, d, rows, trees.bins, (a) => Float64Array.from({ length: rows }, (_, i) => X[i * d + a]!).sort());
  }
}

function fitL2Trees(data: BinnedRows, y: Float64Array): { base: number; trees: RegressionTree[] } {
  const { rows, X, d } = data;
  const base = y.reduce((s, v) => s + v, 0) / rows;
  const f = new Float64Array(rows).fill(base);
  const r = new Float64Array(rows);
  const out: RegressionTree[] = [];
  const all = Array.from({ length: rows }, (_, i) => i);
  const leaf = (members: readonly number[]): number => {
    let total = 0;
    for (const i of members) total += r[i]!;
    return (trees.learningRate * total) / (members.length || 1);
  };
  for (let n = 0; n < trees.trees; n++) {
    for (let i = 0; i < rows; i++) r[i] = y[i]! - f[i]!;
    const tree = growTree(data.features, r, all, { depth: trees.depth, minLeafRows: trees.minLeafRows, leaf });
    for (let i = 0; i < rows; i++) f[i]! += predictTree(tree, X, i * d);
    out.push(tree);
  }
  return { base, trees: out };
}

/** A row of the table: per VM, the forecast at each grid index (calibration and validation). */
type Row = (vm: VmFold, k: number) => number;

function scoreRow(vms: readonly VmFold[], row: Row): AllocationSummary {
  const excess = vms.map((vm) => {
    const origins = vm.grid.slice(vm.calFrom, vm.calTo);
    return sortedExcess(vm.seen, origins, Float64Array.from(origins, (_, i) => row(vm, vm.calFrom + i)), horizon);
  });
  const margin = conformalMargin(mergeExcess(excess), alpha);
  const tally = new AllocationTally();
  for (const vm of vms) {
    const val = vm.grid.slice(vm.valFrom);
    tally.add(vm.seen, val, Float64Array.from(val, (_, i) => row(vm, vm.valFrom + i)), horizon, margin, boundsOf('percent'));
  }
  return tally.summary();
}

/**
 * Which origins a chooser learns from: per VM, grid indices, and whether their features and labels
 * come from the cross-fitted forecasts (indices < trainCount) or from the fits on every VM's [0, aL).
 */
interface RowSource {
  crossFitted: boolean;
  indices: (vm: VmFold) => number[];
}

interface ChooserRows {
  x: number[];
  /** Per candidate, per row: its next-day pinball minus the 13's mean (the label). */
  y: number[][];
  /** Per candidate, per row: its next-day pinball. */
  abs: number[][];
  group: number[];
}

function rowsOf(vms: readonly VmFold[], candidates: number, source: RowSource): ChooserRows {
  const out: ChooserRows = { x: [], y: Array.from({ length: candidates }, () => []), abs: Array.from({ length: candidates }, () => []), group: [] };
  for (const vm of vms) {
    const [forecast, loss] = source.crossFitted ? [vm.trainForecast, vm.trainLoss] : [vm.forecast, vm.loss];
    for (const k of source.indices(vm)) {
      out.x.push(...features(vm.part.values, vm.grid, k, forecast, loss));
      const mean = loss.reduce((x, l) => x + l[k]!, 0) / candidates;
      out.group.push(vm.group);
      for (let ci = 0; ci < candidates; ci++) {
        out.y[ci]!.push(loss[ci]![k]! - mean);
        out.abs[ci]!.push(loss[ci]![k]!);
      }
    }
  }
  return out;
}

/** One regression per candidate over the rows; the chooser holds the lowest predicted loss. */
function fitChooser(rows: ChooserRows, candidates: number): { d: number; rows: number; binnedRows: BinnedRows; predictLoss: (x: ArrayLike<number>, offset: number) => number[] } {
  const n = rows.group.length;
  const d = rows.x.length / n;
  const binnedRows = new BinnedRows(Float64Array.from(rows.x), d, n);
  const models = Array.from({ length: candidates }, (_, ci) => fitL2Trees(binnedRows, Float64Array.from(rows.y[ci]!)));
  const predictLoss = (x: ArrayLike<number>, offset: number): number[] => models.map((m) => m.trees.reduce((s, tree) => s + predictTree(tree, x, offset), m.base));
  return { d, rows: n, binnedRows, predictLoss };
}

/** The chooser's pick at every calibration and validation origin, from the all-VM fits' forecasts. */
function picksOf(vms: readonly VmFold[], candidates: number, predictLoss: (x: ArrayLike<number>, offset: number) => number[]): { picks: Map<VmFold, Int8Array>; agree: number; scored: number; pickCounts: number[] } {
  const picks = new Map<VmFold, Int8Array>();
  let agree = 0;
  let scored = 0;
  const pickCounts = Array.from({ length: candidates }, () => 0);
  for (const vm of vms) {
    const pick = new Int8Array(vm.grid.length).fill(-1);
    for (let k = vm.calFrom; k < vm.grid.length; k++) {
      if (k < 0) continue;
      const predicted = predictLoss(features(vm.part.values, vm.grid, k, vm.forecast, vm.loss), 0);
      pick[k] = predicted.indexOf(Math.min(...predicted));
      if (k >= vm.valFrom) {
        const actual = vm.loss.map((l) => l[k]!);
        if (actual[pick[k]!] === Math.min(...actual)) agree++;
        scored++;
        pickCounts[pick[k]!]!++;
      }
    }
    picks.set(vm, pick);
  }
  return { picks, agree, scored, pickCounts };
}

/** The second pre-registration's variants: only their training rows differ from the first design. */
const variants = [
  {
    name: 'R',
    label: 'chooser R (last 7 fitted days)',
    source: { crossFitted: true, indices: (vm: VmFold) => range(0, vm.trainCount - 1, 1).filter((k) => vm.grid[k]! >= day && vm.grid[k]! >= vm.aEnd - 7 * day) },
  },
  {
    // calTo counts the grid origins whose next day ends by bL.
    name: 'C',
    label: 'chooser C (calibration slice)',
    source: { crossFitted: false, indices: (vm: VmFold) => range(0, vm.calTo - 1, 1).filter((k) => vm.grid[k]! >= vm.aEnd) },
  },
] as const satisfies readonly { name: string; label: string; source: RowSource }[];

const verdicts: { where: string; ratio: number; bestSelectable: number }[] = [];
const variantVerdicts = new Map<string, typeof verdicts>(variants.map((v) => [v.name, []]));
for (const target of targets) {
  const t0 = performance.now();
  const parts = await bitbrainsTrainingParts(target);
  const cands = forecastCandidates('percent', [horizon]);
  console.log(`\n${target}, next day (288 steps), ${parts.length} VMs; ratio = pinball ÷ the best rule on the fold; figures at the pooled margin (α ${pct(alpha)} %): steps above / VMs >10 % under / waste`);
  for (const fold of folds) {
    const vms = await prepareFold(parts, cands, fold.bounds);
    // Training rows: every VM's origins whose next day lies inside the fitted part.
    const first = rowsOf(vms, cands.length, { crossFitted: true, indices: (vm) => range(0, vm.trainCount - 1, 1).filter((k) => vm.grid[k]! >= day) });
    const { d, rows, binnedRows, predictLoss } = fitChooser(first, cands.length);
    const trainAbs = first.abs;
    const rowGroup = first.group;
    const trainY = first.y;
    // In sample (diagnostic): every row's next day as the chooser picks it, against the best rule over the same rows.
    let inSample = 0;
    for (let i = 0; i < rows; i++) {
      const p = predictLoss(binnedRows.X, i * d);
      inSample += trainAbs[p.indexOf(Math.min(...p))]![i]!;
    }
    // Across VM groups in the same weeks (diagnostic): fitted on one group's rows, picking on the
    // other's; again without the days of history (the last feature), which in Bitbrains, where
    // every VM starts together, is the calendar day: a date the groups share.
    const acrossGroups = (withDays: boolean): number => {
      let sum = 0;
      for (const g of [0, 1]) {
        const fitRows = rowGroup.flatMap((x, i) => (x === g ? [i] : []));
        const Xg = new Float64Array(fitRows.length * d);
        fitRows.forEach((i, j) => Xg.set(binnedRows.X.subarray(i * d, (i + 1) * d), j * d));
        if (!withDays) for (let j = 0; j < fitRows.length; j++) Xg[j * d + d - 1] = 0;
        const binnedG = new BinnedRows(Xg, d, fitRows.length);
        const modelsG = cands.map((_, ci) => fitL2Trees(binnedG, Float64Array.from(fitRows, (i) => trainY[ci]![i]!)));
        for (let i = 0; i < rows; i++) {
          if (rowGroup[i] === g) continue;
          const p = modelsG.map((m) => m.trees.reduce((s, tree) => s + predictTree(tree, binnedRows.X, i * d), m.base));
          sum += trainAbs[p.indexOf(Math.min(...p))]![i]!;
        }
      }
      return sum;
    };
    const crossGroup = acrossGroups(true);
    const crossGroupNoDays = acrossGroups(false);
    const ruleInSample = Math.min(...cands.map((c, ci) => (c.trained ? Infinity : trainAbs[ci]!.reduce((x, v) => x + v, 0))));
    // The chooser's pick at every calibration and validation origin (features from the all-VM fits' forecasts).
    const { picks, agree, scored, pickCounts } = picksOf(vms, cands.length, predictLoss);
    const fixed = (ci: number): Row => (vm, k) => vm.forecast[ci]![k]!;
    const byCand = cands.map((_, ci) => scoreRow(vms, fixed(ci)));
    const ruleIdx = cands.map((_, ci) => ci).filter((ci) => !cands[ci]!.trained);
    const bestRule = ruleIdx.reduce((x, y) => (byCand[y]!.pinballP95 < byCand[x]!.pinballP95 ? y : x));
    const bestAny = cands.map((_, ci) => ci).reduce((x, y) => (byCand[y]!.pinballP95 < byCand[x]!.pinballP95 ? y : x));
    const hindsight = new Map(vms.map((vm) => {
      const valLoss = vm.loss.map((l) => l.subarray(vm.valFrom).reduce((x, v) => x + v, 0));
      return [vm, valLoss.indexOf(Math.min(...valLoss))];
    }));
    const chooser = scoreRow(vms, (vm, k) => vm.forecast[picks.get(vm)![k]!]![k]!);
    const bound = scoreRow(vms, (vm, k) => vm.forecast[hindsight.get(vm)!]![k]!);
    const ref = byCand[bestRule]!.pinballP95;
    const line = (name: string, s: AllocationSummary, mark = ''): void =>
      console.log(`  ${name.padEnd(34)} ${s.pinballP95.toFixed(3)}  ${(s.pinballP95 / ref).toFixed(3)}×${mark}  ${pct(s.underProvisioningRate)} % / ${s.subjectsOver10Percent}/${s.subjects} / ${s.waste.toFixed(2)}`);
    const idOf = (id: string): number => cands.findIndex((c) => c.id === id);
    console.log(`\n  ${fold.name} = (${fold.bounds.join(', ')}): ${rows} training rows × ${d} features; validated on ${scored} origins`);
    line('chooser', chooser, chooser.pinballP95 / ref <= 0.9 ? ' ✓' : ' ✗');
    line(`best rule: ${cands[bestRule]!.id}`, byCand[bestRule]!);
    line('pooled-median', byCand[idOf('pooled-median')]!);
    line('pooled-median-5', byCand[idOf('pooled-median-5')]!);
    line('pooled-quantile', byCand[idOf('pooled-quantile')]!);
    line(`best of the 13: ${cands[bestAny]!.id}`, byCand[bestAny]!);
    line('per-VM hindsight bound', bound);
    console.log(`  in sample (diagnostic, added after the first run): the chooser on its own training rows ${(inSample / ruleInSample).toFixed(3)}× the best rule there; fitted on one VM group's rows and picking on the other's (same weeks) ${(crossGroup / ruleInSample).toFixed(3)}×, without the days of history ${(crossGroupNoDays / ruleInSample).toFixed(3)}×`);
    console.log(`  chooser picked the origin's cheapest candidate at ${pct(agree / (scored || 1))} % of validation origins; picks: ${cands.map((c, ci) => (pickCounts[ci] ? `${c.id} ${pickCounts[ci]}` : '')).filter(Boolean).join(', ')}`);
    verdicts.push({ where: `${target} ${fold.name}`, ratio: chooser.pinballP95 / ref, bestSelectable: byCand[bestAny]!.pinballP95 / ref });
    // The second pre-registration: the same chooser learnt from the weeks just before the validation slice.
    for (const variant of variants) {
      const fit = fitChooser(rowsOf(vms, cands.length, variant.source), cands.length);
      const v = picksOf(vms, cands.length, fit.predictLoss);
      const summary = scoreRow(vms, (vm, k) => vm.forecast[v.picks.get(vm)![k]!]![k]!);
      line(variant.label, summary, summary.pinballP95 / ref <= 0.9 ? ' ✓' : ' ✗');
      console.log(`    ${fit.rows} training rows; picked the origin's cheapest candidate at ${pct(v.agree / (v.scored || 1))} % of validation origins; picks: ${cands.map((c, ci) => (v.pickCounts[ci] ? `${c.id} ${v.pickCounts[ci]}` : '')).filter(Boolean).join(', ')}`);
      variantVerdicts.get(variant.name)!.push({ where: `${target} ${fold.name}`, ratio: summary.pinballP95 / ref, bestSelectable: byCand[bestAny]!.pinballP95 / ref });
    }
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
const verdictOf = (title: string, vs: typeof verdicts, subject: string): void => {
  const everywhere = vs.every((v) => v.ratio <= v.bestSelectable);
  const somewhere = vs.some((v) => v.ratio <= 0.9);
  console.log(`\nVerdict (${title}): ${vs.map((v) => `${v.where} ${v.ratio.toFixed(3)}× vs best of 13 ${v.bestSelectable.toFixed(3)}× ${v.ratio <= v.bestSelectable ? '✓' : '✗'}`).join('; ')}`);
  console.log(targets.length < 2 ? 'one resource only: no verdict' : `${subject} is ${everywhere && somewhere ? 'useful' : 'not useful'} (≤ the best of the 13 on every fold and resource: ${everywhere ? 'yes' : 'no'}; ≤ 0.9× somewhere: ${somewhere ? 'yes' : 'no'})`);
};
verdictOf('pre-registered', verdicts, 'the chooser');
for (const variant of variants) verdictOf(`second pre-registration, ${variant.name}`, variantVerdicts.get(variant.name)!, `${variant.label}`);
