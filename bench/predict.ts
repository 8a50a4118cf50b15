/**
 * Prediction benchmark: training time of each model on the Bitbrains folder and on the Schonlau
 * users, and the latency of one usage vector (median and p99). Targets on the 2-core machine:
 * full Bitbrains training ≤ 5 minutes, one usage vector ≤ 50 ms.
 *
 *   bash scripts/bench predict            (needs ../shared/datasets)
 *
 * The network is trained once per target (minutes); the fast models and the vector latency are
 * medians of several runs. CPU time of the process is printed beside wall time, because the
 * machine's two cores are shared and wall time alone says more about the neighbours than us.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { datasetHistory } from '../src/predict/dataset-history.js';
import { createSequenceModel, sequenceModelIds } from '../src/predict/model-catalog.js';
import { buildPackageIndex } from '../src/predict/package-index.js';
import { createPredictor } from '../src/predict/predict-vector.js';
import { train } from '../src/predict/train.js';
import { tempHome } from './support/home.js';
import { datasetsDir } from '../test/support/datasets.js';

const datasets = datasetsDir;
if (!existsSync(join(datasets, 'bitbrains-rnd-2013-7')) || !existsSync(join(datasets, 'schonlau'))) {
  console.log(`skipped: needs ${datasets}/bitbrains-rnd-2013-7 and ${datasets}/schonlau`);
  process.exit(0);
}
const home = tempHome('predict');
const modelsDir = join(home, 'models');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

try {
  const packageIndex = await buildPackageIndex('/');

  // Bitbrains: the whole `prescient train` run, step by step.
  const bitbrains = datasetHistory({ path: join(datasets, 'bitbrains-rnd-2013-7'), format: 'bitbrains' });
  const steps: { label: string; at: number }[] = [];
  const wall0 = performance.now();
  const cpu0 = cpuSeconds();
  const set = await train({ history: bitbrains, modelsDir, scope: { kind: 'category', id: 'bitbrains' }, packageIndex, onStep: (label) => steps.push({ label, at: performance.now() }) });
  const wall = (performance.now() - wall0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  console.log(`Bitbrains (100 VMs, 80 % of each series), full training run: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU (target ≤ 300 s)`);
  steps.forEach((s, i) => console.log(`  ${(((steps[i + 1]?.at ?? performance.now()) - s.at) / 1000).toFixed(1).padStart(6)} s  ${s.label}`));
  for (const r of set.reports) console.log(`  model ${r.modelId} (${r.details.target}): ${(r.durationMs / 1000).toFixed(1)} s, ${r.samples} samples${r.details.epochs === undefined ? '' : `, ${r.details.epochs} epochs`}`);
  console.log('  baselines (last value, moving average/percentile, EWMA, seasonal naive): no training (0 s)');

  // Schonlau: each sequence model's fit, median of 5.
  const schonlau = datasetHistory({ path: join(datasets, 'schonlau'), format: 'commands' });
  const sequences: string[][] = [];
  for (const s of await schonlau.subjects()) sequences.push((await schonlau.launches(s.id)).map((e) => e.program).slice(0, 4000));
  console.log('Schonlau (25 users × 4,000 commands), fit time, median of 5:');
  for (const id of sequenceModelIds) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const m = createSequenceModel(id);
      const t = performance.now();
      await m.fit(sequences);
      // The n-gram model learns a subject's contexts when its session starts: count that too.
      for (const s of sequences) m.predict({ history: s }).rank(5);
      times.push(performance.now() - t);
    }
    console.log(`  ${id.padEnd(14)} ${median(times).toFixed(1)} ms`);
  }
  const t1 = performance.now();
  const commands = await train({ history: schonlau, modelsDir, scope: { kind: 'category', id: 'commands' }, packageIndex });
  console.log(`  full training run with backtest and selection (all 15,000 commands per user): ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  for (const r of commands.reports) console.log(`  model ${r.modelId} on all commands: ${(r.durationMs / 1000).toFixed(1)} s, ${r.samples} samples`);

  // Latency of one usage vector, models loaded and history read (as a server has them).
  const predictor = createPredictor({ history: bitbrains, modelsDir });
  const clients = (await bitbrains.subjects()).map((s) => s.id);
  for (const c of clients) await predictor.predict({ clientId: c });
  const lat: number[] = [];
  for (let r = 0; r < 5; r++) {
    for (const c of clients) {
      const t = performance.now();
      await predictor.predict({ clientId: c });
      lat.push(performance.now() - t);
    }
  }
  console.log(`usage vector latency, Bitbrains client (LSTM + baselines, ${lat.length} vectors): median ${median(lat).toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms (target ≤ 50 ms)`);
  const cmd = createPredictor({ history: schonlau, modelsDir });
  const users = (await schonlau.subjects()).map((s) => s.id);
  for (const u of users) await cmd.predict({ clientId: u });
  const lat2: number[] = [];
  for (let r = 0; r < 8; r++) {
    for (const u of users) {
      const t = performance.now();
      await cmd.predict({ clientId: u });
      lat2.push(performance.now() - t);
    }
  }
  console.log(`usage vector latency, Schonlau user (n-gram + packages, ${lat2.length} vectors): median ${median(lat2).toFixed(1)} ms, p99 ${quantile(lat2, 0.99).toFixed(1)} ms`);
  const cold: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    await predictor.predict({ clientId: `new-${i}`, category: 'bitbrains' });
    cold.push(performance.now() - t);
  }
  console.log(`usage vector latency, client without history (category vector): median ${median(cold).toFixed(1)} ms, p99 ${quantile(cold, 0.99).toFixed(1)} ms`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
