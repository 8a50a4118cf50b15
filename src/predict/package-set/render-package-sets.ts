import type { PackageSetEvaluation } from './evaluate-package-set.js';
import { plainCounts } from './package-set.js';

const pct = (v: number): string => (100 * v).toFixed(1);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const gap = (v: number): string => (100 * v).toFixed(2);

/** The coverage-against-bytes curve of every policy, per horizon, as `eval` and the benchmark print it. */
export function renderPackageSets(e: PackageSetEvaluation): string {
  const out: string[] = [
    `software as a set for the image: ${e.subjects} users; origins every ${e.stride} launches; settings chosen on launches ${e.validationFrom + 1}–${e.trainItems}, scored once on ${e.trainItems + 1}–${e.trainItems + e.testItems}. ` +
      'Coverage = share of the next launches whose program is served by a package in the image; bytes = mean per image of the packages\' Installed-Size (required packages, in every Debian image, count 0).',
  ];
  for (const h of e.horizons) {
    const c = h.chosen;
    const settings = c.settings.map((s) => `half-life ${s.halfLifeLaunches < plainCounts ? s.halfLifeLaunches : '∞'} / prior ${s.priorWeight}`).join(', ');
    out.push(
      '',
      `next ${h.horizon} (${h.items} launches): ${h.origins} origins, ${h.launches} launches scored (${pct(h.unservable)} % of launches no archive package serves are left out); chosen: the average of ${settings} (launches; validation coverage at half the bytes ${pct(c.validationCoverageAtHalf)} %)`,
      'policy                 | knob          | MB/image | share of every-seen bytes | coverage %',
    );
    for (const p of h.curve) out.push(`${p.policy.padEnd(22)} | ${p.knob.padEnd(13)} | ${mb(p.meanBytes).padStart(8)} | ${pct(p.bytesShare).padStart(25)} | ${pct(p.coverage).padStart(10)}`);
    const a = h.atHalf;
    out.push(
      `at half the bytes of every package seen: set predictor ${pct(a.packageSet)} %, most frequent (k = ${a.mostFrequentK}) ${pct(a.mostFrequent)} %, every package seen ${pct(a.everySeen)} % at twice the bytes → ${a.withinOnePoint ? 'within 1 point' : 'NOT within 1 point'} (${gap(a.gap)} points)`,
      `serving's threshold (chosen on the training part: the fewest bytes within 0.5 point of every package seen there): ${pct(h.atChosenThreshold.bytesShare)} % of the bytes (${mb(h.atChosenThreshold.meanBytes)} MB), coverage ${pct(h.atChosenThreshold.coverage)} %`,
    );
  }
  out.push('', `gap to every package seen at half its bytes (acceptance: ≤ 1 point each): ${e.horizons.map((h) => `next ${h.horizon} ${gap(h.atHalf.gap)}${h.atHalf.withinOnePoint ? ' ✓' : ' ✗'}`).join(', ')}`);
  return out.join('\n');
}
