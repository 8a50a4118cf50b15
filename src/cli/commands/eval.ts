import { Option, type Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { evaluate, type EvaluationReport } from '../../predict/evaluate.js';
import type { ForecastEvaluation } from '../../predict/forecast/evaluate-forecast.js';
import type { AllocationSummary } from '../../predict/forecast/subject-allocation.js';
import { resourceTargets, type ResourceTarget } from '../../predict/evaluate-resources.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { emit, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { paths } from '../../core/config.js';
import { archivePackageIndex } from '../../predict/archive-package-index.js';
import { archivePackageSizes } from '../../predict/archive-package-sizes.js';
import { renderPackageSets } from '../../predict/package-set/render-package-sets.js';
import { plural } from '../plural.js';
import { detectRequestFormat, readRequestLog, requestStreamFormats, type RequestStreamFormat } from '../../predict/request-timing/request-streams.js';
import { renderTimingReport, timingReport } from '../../predict/request-timing/timing-report.js';

interface EvalFlags extends HistoryFlags {
  network: boolean;
  forecast: boolean;
  targets?: string;
  horizons?: string;
  stride: string;
  timeBudget: string;
  archiveIndex: boolean;
  requests?: string;
  requestFormat?: string;
}

const pct = (v: number): string => (100 * v).toFixed(1);
const num = (v: number | undefined, d = 3): string => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));

export function renderEvaluation(r: EvaluationReport): string {
  const out: string[] = [`${r.dataset}: ${plural(r.subjects, 'subject')}, ${(r.durationMs / 1000).toFixed(1)} s`];
  for (const e of r.resources) {
    out.push(
      '',
      `${e.target}, p95 over the next ${e.horizonSteps} step(s) of 5 min, last 20 % of each series held out. Allocation = basis + margin (basis: the model's allocation output, else its forecast). ` +
        `"deployed": margin calibrated on the tail of the training part, as the resource module would; "oracle": every model, ${e.reference} included, gets the margin tuned on the test part to the under-provisioning ${e.reference} reached deployed — a reference for comparing wastes, never a choice (what is chosen, and how, is in the pooled forecaster's section below).`,
    );
    out.push(
      table(
        e.rows.map((x) => [x.fellBackTo ? `${x.model} = ${x.fellBackTo} (training never beat its starting rule)` : x.model, num(x.mae, 2), num(x.pinballP95), pct(x.allocation.underProvisioningRate), num(x.allocation.waste, 2), x.tunedToReference ? pct(x.tunedToReference.underProvisioningRate) : '', num(x.tunedToReference?.waste, 2), x.tunedToReference?.subjectsOver10Percent ?? '']),
        ['model', 'MAE', 'pinball@p95', 'deployed under %', 'deployed waste', 'oracle under %', 'oracle waste', 'series >10 % under (oracle)'],
      ),
    );
    if (e.allocation) {
      const a = e.allocation;
      const ref = e.rows.find((x) => x.model === e.reference);
      if (ref?.fellBackTo) out.push(`${e.reference} fell back to its starting rule at this horizon: its figures are ${ref.fellBackTo}'s`);
      out.push(`oracle comparison at ${pct(a.rate)} % under-provisioning (margins tuned on the test part): ${e.reference} wastes ${num(a.referenceWaste, 2)}, the best baseline (${a.bestBaseline}) ${num(a.bestBaselineWaste, 2)} → ${a.referenceWins ? `${e.reference} wastes less` : `${e.reference} does NOT waste less`}`);
    }
  }
  if (r.forecast && r.forecast.length > 0) out.push('', renderForecast(r.forecast));
  if (r.sequences) {
    const s = r.sequences;
    const ks = Object.keys(s.rows[0]?.recallAtK ?? {});
    out.push('', `next program, online on items ${s.trainItems + 1}–${s.trainItems + s.testItems} of each user; set recall@k of the programs of the next ${s.blockItems}`);
    out.push(table(s.rows.map((x) => [x.model, pct(x.top1), pct(x.top5), ...ks.map((k) => pct(x.recallAtK[k]!))]), ['model', 'top-1 %', 'top-5 %', ...ks.map((k) => `recall@${k} %`)]));
  }
  if (r.softwareSets) out.push('', renderPackageSets(r.softwareSets));
  if (r.training.length > 0) {
    out.push('', table(r.training.map((t) => [t.modelId, t.samples, (t.durationMs / 1000).toFixed(1), Object.entries(t.details).map(([k, v]) => `${k}=${v}`).join(' ')]), ['trained', 'samples', 'seconds', 'details']));
  }
  if (r.readme.length > 0) {
    out.push('', 'datasets README baselines', table(r.readme.map((c) => [c.claim, c.published, c.measured, c.reproduced ? 'within ±0.5' : 'OFF']), ['figure', 'published', 'measured', '']));
    // What each figure means exactly, once per distinct definition.
    for (const d of new Set(r.readme.map((c) => c.definition).filter((d): d is string => d !== undefined))) {
      out.push(`  - ${r.readme.filter((c) => c.definition === d).map((c) => c.claim).join('; ')}: ${d}`);
    }
  }
  return out.join('\n');
}

const yes = (ok: boolean): string => (ok ? 'met' : 'NOT met');

/** The honest comparison: chosen on training parts only, scored once; which acceptance lines hold. */
export function renderForecast(evaluations: readonly ForecastEvaluation[]): string {
  const out: string[] = [
    'Pooled forecaster (pooled-quantile: one p95 quantile regression over every subject\'s own window statistics; pooled-median: the median of it, vpa-samples and autopilot-p95; pooled-median-5: the median of it, vpa-samples, autopilot-p95, moving-p95-288 and Autopilot\'s histogram at p98; "pooled" below is whichever of the three had the lowest validation pinball) against every rule, VPA and Autopilot included. ' +
      'Every choice — which model forecasts, which drives the allocation, each model\'s α (the share of its own steps a subject\'s margin may leave above, its margin the conformal quantile on a held-back slice of its own training part) and that slice\'s length — ' +
      'is made by rolling-origin validation inside the training parts; the last 20 % of each series is scored once. "by subject": two groups of VMs, each scored with what was fitted on the other group, selected on both groups\' training parts (the held-out group validated on with its own margins, never fitted on).',
  ];
  for (const e of evaluations) {
    out.push('', `${e.target}, next ${e.horizon} steps of 5 min, split by ${e.split}`);
    const acc = e.acceptance;
    const dacc = e.deployed.acceptance;
    if (!e.validated || !acc || !dacc) {
      out.push(notValidatedLine(e), table(e.rows.map((x) => [x.model, num(x.pinballP95)]), ['model', 'pinball@p95 (test part, for reference: nothing was chosen)']));
      continue;
    }
    out.push(
      table(
        e.rows.map((x) => [x.model, num(x.pinballP95), pct(x.underProvisioningRate), `${x.subjectsOver10Percent}/${x.subjects}`, num(x.waste, 2), pct(x.alpha), pct(x.calibrationShare)]),
        ['model', 'pinball@p95', 'steps under %', 'VMs >10 % under', 'waste', 'α %', 'calibrated on %'],
      ),
    );
    const p = e.pooled;
    const drives = [...new Set(e.selections.map((s) => s.allocationModel))];
    const forecasts = [...new Set(e.selections.map((s) => s.forecastModel))];
    out.push(
      `  selected on training parts: forecast by ${forecasts.join(' / ')}, allocation by ${drives.join(' / ')}${drives.some((d) => d.startsWith('pooled-')) ? '' : ' (the pooled forecaster did not beat this rule on validation: the rule is what is used, under its own name)'}`,
      `  pooled = ${p.model}: pinball ${num(p.pinballP95)} vs best baseline ${e.bestBaselinePinball.model} ${num(e.bestBaselinePinball.pinballP95)} = ${num(e.pinballRatio)}× (≤ 0.90×: ${yes(acc.pinball)})`,
      `  steps under ${pct(p.underProvisioningRate)} % (≤ 5 %: ${yes(acc.steps)}); VMs >10 % under ${p.subjectsOver10Percent}/${p.subjects} = ${pct(p.subjectsOver10Percent / Math.max(1, p.subjects))} % (≤ 5 %: ${yes(acc.subjects)})`,
      e.bestBaselineAtRate.model === 'none'
        ? `  waste ${num(p.waste, 2)}: no rule reaches ${pct(e.bestBaselineAtRate.rate)} % with ≤ 5 % of VMs above 10 % under, even with its margin tuned on the test part: ${yes(acc.waste)}`
        : `  waste ${num(p.waste, 2)} vs ${num(e.bestBaselineAtRate.waste, 2)} for the best rule at the same ${pct(e.bestBaselineAtRate.rate)} % with ≤ 5 % of VMs above 10 % under (${e.bestBaselineAtRate.model}, ${e.bestBaselineAtRate.subjectsOver10Percent} VMs, its one margin tuned on the test part, which favours it): ${yes(acc.waste)}`,
    );
    const d = e.deployed;
    const evidence = e.selections.map((s) => `${s.allocationModel} α ${pct(s.allocation.alpha)} % on ${pct(s.allocation.calibrationShare)} %, λ ${s.allocation.shrinkage}: worst fold ${pct(s.allocation.evidence.worstFoldRate)} % of steps, VM share bound ${pct(s.allocation.evidence.worstFoldSubjectBound)} % (${s.allocation.evidence.holds ? 'holds' : 'none held: the nearest'}; validated on ${s.validatedOn} VMs${s.allocation.halves ? `: fitted ${halfFigures(s.allocation.halves.fitted)}, held out ${halfFigures(s.allocation.halves.unfitted)}` : ''})`);
    out.push(
      `  allocation rule on validation (every fold ≤ 5 % of steps and 95 % upper bound of the VMs >10 % under ≤ 5 %): ${evidence.join('; ')}`,
      `  deployed (the allocation selection chose, ${d.models.join(' / ')}, each VM with its own calibrated margin, shrunk by λ towards the pooled one): steps under ${pct(d.summary.underProvisioningRate)} % (${yes(dacc.steps)}), VMs >10 % under ${d.summary.subjectsOver10Percent}/${d.summary.subjects} (${yes(dacc.subjects)}), ` +
        `waste ${num(d.summary.waste, 2)} vs ${d.bestBaselineAtRate.model === 'none' ? 'no rule at that rate' : `${num(d.bestBaselineAtRate.waste, 2)} (${d.bestBaselineAtRate.model}) at the same rate`} (${yes(dacc.waste)})`,
    );
  }
  return out.join('\n');
}

/**
 * What `eval` says for a horizon no training part could validate (a trace of a few days, next
 * day): nothing was chosen there, so no pooled row, no deployed line and no acceptance verdict.
 */
export function notValidatedLine(e: ForecastEvaluation): string {
  const unvalidated = e.selections.filter((s) => !s.validated);
  const fallback = [...new Set(unvalidated.map((s) => s.forecastModel))].join(' / ');
  return (
    `  NOT VALIDATED: ${unvalidated.length === e.selections.length ? 'no' : `in ${unvalidated.length} of ${e.selections.length} selections no`} training part holds a validation origin ${e.horizon} steps ahead ` +
    `(each fold validates on 15 % of a training part, shorter than the horizon here), so nothing was chosen: forecast and allocation fall back to ${fallback}, ` +
    'and no acceptance line is judged at this horizon. The pinball below is each model scored once on the test parts, for reference only.'
  );
}

/** Validation figures of one half of the subjects (folds added up): steps above, VM-folds above 10 % under. */
function halfFigures(h: AllocationSummary): string {
  return `${pct(h.underProvisioningRate)} % of steps, ${h.subjectsOver10Percent}/${h.subjects} VM-folds >10 % under`;
}

export const registerEval: CommandRegistration = (program: Command) => {
  const cmd = program
    .command('eval')
    .description('backtest every model against every baseline on a trace (chronological splits, never shuffled)')
    .option('--no-network', 'skip the recurrent network (baselines only, seconds instead of minutes)')
    .option('--no-forecast', 'skip the pooled forecaster\'s evaluation (selected on training parts, by time and by subject)')
    .option('--targets <list>', `resource targets, comma separated (${resourceTargets.join(', ')})`)
    .option('--horizons <steps>', 'forecast horizons in 5-minute steps, comma separated (default 12,288 = next hour and next day; PlanetLab 1,12)')
    .option('--stride <n>', 'score every n-th origin of multi-step horizons', '6')
    .option('--time-budget <seconds>', 'stop training the network after this long (keeps the best epoch)', '280')
    .option('--no-archive-index', "commands: skip the software-set curve (it needs the archive's Contents and Packages indexes of bookworm, downloaded once)")
    .option('--requests <file>', 'when a client asks: replay the proactive timing policies over a per-user request stream (instead of --dataset)')
    .addOption(new Option('--request-format <format>', 'format of --requests (default: swf for *.swf[.gz]; lora when the first line is a header naming gmt_create, groupId and checkpoint_model_version_id; else google-submits)').choices(requestStreamFormats));
  addHistoryOptions(cmd)
    .addHelpText(
      'after',
      `
Resources (bitbrains, planetlab, alibaba-machines): MAE, pinball loss at p95, under-provisioning rate and waste of
the allocation each forecast drives; commands (Schonlau): top-1/top-5 next-program accuracy and
set recall@k, online (predict, then learn), and the software set for the image: coverage of the
next day (100 launches) and week (700) against the packages' bytes, beside the k most frequent
programs' packages and every package seen. Ends with the datasets README baselines reproduced.
alibaba-machines (Alibaba 2018 machine_usage.csv, one file for every machine): each machine
resampled to 5-minute means, CPU and memory (both scored by default); 8 days are too short to
validate the next day, and eval says so for that horizon instead of judging it.
planetlab: each VM-day file a series (one day, CPU only); the pooled forecaster at the next hour,
held out by subject means by VM (every day of a VM in one group).

Examples:
  prescient eval --dataset ../shared/datasets/planetlab --format planetlab --no-network
  prescient eval --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains --horizons 12,288
  prescient eval --dataset ../shared/datasets/alibaba-2018-machine-usage --format alibaba-machines --json
  prescient eval --dataset ../shared/datasets/schonlau --format commands --json
  prescient eval --requests ../shared/datasets/google-2011-submits/submits.csv.gz
  prescient eval --requests ../shared/datasets/pwa-nasa-ipsc/NASA-iPSC-1993-3.1-cln.swf.gz
  prescient eval --requests ../shared/datasets/alibaba-genai-lora/lora_request_trace.csv --request-format lora`,
    )
    .action(async (flags: EvalFlags, command: Command) => {
      if (flags.requests) {
        if (!existsSync(flags.requests)) throw new ValidationError('--requests', `no such file: ${flags.requests}`);
        const format = (flags.requestFormat ?? (await detectRequestFormat(flags.requests, cliSignal()))) as RequestStreamFormat;
        const progress = createProgress({ quiet: globalOptions(command).quiet });
        progress.step(`replaying the timing policies over ${basename(flags.requests)}`);
        const log = await readRequestLog(flags.requests, format, cliSignal()).catch((e: unknown) => {
          progress.fail((e as Error).message);
          throw e;
        });
        const { report } = timingReport(log);
        progress.done();
        emit(command, report, (r) => renderTimingReport(basename(flags.requests!), r));
        return;
      }
      // Backtests run over the public traces, whose format decides what is evaluated.
      if (!flags.dataset) throw new ValidationError('--dataset', 'eval backtests a trace folder: give --dataset PATH --format FORMAT');
      const { history, format } = await openHistory(flags);
      if (!format) throw new ValidationError('--format', 'required with --dataset');
      const targets = flags.targets?.split(',').map((t) => t.trim());
      for (const t of targets ?? []) if (!(resourceTargets as readonly string[]).includes(t)) throw new ValidationError('--targets', `unknown target ${JSON.stringify(t)}`);
      const horizons = flags.horizons?.split(',').map((h) => Number(h));
      if (horizons?.some((h) => !Number.isInteger(h) || h < 1)) throw new ValidationError('--horizons', 'positive whole numbers of steps');
      const stride = Number(flags.stride);
      if (!Number.isInteger(stride) || stride < 1) throw new ValidationError('--stride', 'a positive whole number');
      const budget = Number(flags.timeBudget);
      if (!(budget > 0)) throw new ValidationError('--time-budget', 'a positive number of seconds');
      const progress = createProgress({ quiet: globalOptions(command).quiet });
      try {
        let packages: { packageOf: (program: string) => string | undefined; bytesOf: (pkg: string) => number | undefined } | undefined;
        if (format === 'commands' && flags.archiveIndex) {
          progress.step("reading the archive's program and package indexes (bookworm)");
          const cacheDir = join(paths().packageCache, 'contents');
          try {
            const sizes = await archivePackageSizes({ codename: 'bookworm', cacheDir, signal: cliSignal() });
            const index = await archivePackageIndex({ codename: 'bookworm', cacheDir, sizes, signal: cliSignal() });
            packages = { packageOf: (p) => index.packageOf(p), bytesOf: (p) => sizes.bytesOf(p) };
          } catch (e) {
            process.stderr.write(`warning: the archive's indexes are unavailable (${(e as Error).message}); no software-set curve\n`);
          }
        }
        const report = await evaluate({
          ...(packages ? { packages } : {}),
          history,
          format,
          network: flags.network,
          forecast: flags.forecast,
          ...(targets ? { targets: targets as ResourceTarget[] } : {}),
          ...(horizons ? { horizons } : {}),
          originStride: stride,
          timeBudgetMs: budget * 1000,
          signal: cliSignal(),
          onStep: (l) => progress.step(l),
          onDetail: (d) => progress.detail(d),
        });
        progress.done();
        emit(command, report, renderEvaluation);
      } catch (e) {
        progress.fail((e as Error).message);
        throw e;
      }
    });
};
