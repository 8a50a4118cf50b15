import { seededRandom } from '../../src/core/seeded-random.js';
import { createResourceBaseline } from '../../src/predict/models/baselines/resource-baselines.js';
import { evaluateForecast, type ForecastSubject } from '../../src/predict/forecast/evaluate-forecast.js';
import type { ForecastCandidate, ForecastSelection } from '../../src/predict/forecast/forecast-selection.js';
import { createPooledForecaster, pooledForecasterId } from '../../src/predict/forecast/pooled-forecaster.js';

/** Steps of 5 minutes in a day. */
export const day = 288;

/** VMs with a daily load curve and bursts: level and burst height differ per VM. */
export function syntheticSubjects(count: number, days: number, seed: number): ForecastSubject[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, (_, v) => {
    const level = 5 + 6 * v;
    const series = new Float64Array(days * day);
    for (let t = 0; t < series.length; t++) {
      const hour = (t % day) / 12;
      const daily = hour > 8 && hour < 18 ? level : level / 3;
      series[t] = Math.min(100, daily + rnd() * level * 0.3 + (rnd() < 0.02 ? 20 : 0));
    }
    return { id: `vm${v}`, category: 'synthetic', series };
  });
}

/** Two rules and the pooled forecaster: enough for selection to have a choice, fast to fit. */
export const forecastCandidates: ForecastCandidate[] = [
  { id: 'last-value', trained: false, create: () => createResourceBaseline('last-value') },
  { id: 'moving-p95-288', trained: false, create: () => createResourceBaseline('moving-p95-288') },
  { id: pooledForecasterId, trained: true, create: () => createPooledForecaster({ horizons: [12, 288] }) },
];

/** The pooled forecaster's honest evaluation of CPU at the next hour and day, with every selection it made. */
export async function runForecast(subjects: ForecastSubject[]) {
  const selections: { split: string; group: number; selections: readonly ForecastSelection[] }[] = [];
  const evaluations = await evaluateForecast({
    subjects,
    target: 'cpuPercent',
    unit: 'percent',
    horizons: [12, 288],
    testFraction: 0.2,
    originStride: 12,
    candidates: forecastCandidates,
    onSelection: (split, group, s) => selections.push({ split, group, selections: s }),
  });
  return { evaluations, selections };
}
