import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runForecast, syntheticSubjects } from '../../../test/support/forecast-fixture.js';
import { renderForecast } from './eval.js';

test('eval prints no verdict for a horizon no training part could validate (8 days, next day), and one for the next hour', async () => {
  const { evaluations } = await runForecast(syntheticSubjects(4, 8, 11));
  const blocks = renderForecast(evaluations).split('\n\ncpuPercent, ').slice(1);
  assert.equal(blocks.length, 4, 'two horizons × two splits');
  for (const b of blocks) {
    if (b.startsWith('next 288 ')) {
      assert.match(b, /NOT VALIDATED: no training part holds a validation origin 288 steps ahead/);
      assert.match(b, /fall back to moving-p95-288/);
      assert.doesNotMatch(b, /pooled = |deployed \(|met\)/, 'no verdict printed for a horizon chosen on nothing');
    } else assert.match(b, /pooled = .*≤ 0\.90×: (met|NOT met)/);
  }
});
