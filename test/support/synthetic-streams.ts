import { hazardWindow, pooledHazard } from '../../src/predict/request-timing/hazard-window.js';
import { withPeriodicJobs } from '../../src/predict/request-timing/periodic-jobs.js';
import { clockHazard } from '../../src/predict/request-timing/timing-candidates.js';
import { adaptiveWindow, hybridHistogram, keepAlive, type TimingPolicyFactory } from '../../src/predict/request-timing/timing-policies.js';

/** A deterministic generator (no test may depend on Math.random). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Synthetic users whose gaps mix returns after 1–2 hours, 8–16 hours and 1–3 days; some requests a session apart within 30 minutes. */
export function streamsOf(users: number, sessions: number, seed: number): { times: Map<string, number[]>; programs: Map<string, string[]> } {
  const next = lcg(seed);
  const times = new Map<string, number[]>();
  const programs = new Map<string, string[]>();
  for (let u = 0; u < users; u++) {
    const t: number[] = [];
    const p: string[] = [];
    let at = Math.floor(next() * 86_400);
    for (let s = 0; s < sessions; s++) {
      t.push(at);
      p.push(`job${u % 3}`);
      if (next() < 0.3) (t.push(at + 600), p.push('other'));
      const r = next();
      const gapMinutes = r < 0.5 ? 60 + 60 * next() : r < 0.8 ? 480 + 480 * next() : 1440 + 2880 * next();
      at = t[t.length - 1]! + Math.round(gapMinutes * 60);
    }
    times.set(`u${u}`, t);
    programs.set(`u${u}`, p);
  }
  return { times, programs };
}

export function perSubjectPolicies(training: ReadonlyMap<string, readonly number[]>): TimingPolicyFactory[] {
  const prior = pooledHazard(training);
  return [
    keepAlive(60),
    keepAlive(240),
    keepAlive(1440),
    hybridHistogram(),
    adaptiveWindow(0.002),
    hazardWindow(0.003, { prior }),
    hazardWindow(0.0025, { ...clockHazard, prior }),
    withPeriodicJobs(hazardWindow(0.0025, { ...clockHazard, prior })),
  ];
}

