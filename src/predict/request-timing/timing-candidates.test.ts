import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TimingEvaluation, TimingResult } from './evaluate-timing.js';
import { bestTimingPolicy } from './timing-candidates.js';

const result = (policy: string, coldStartRate: number, unusedMinutesPerSession: number): TimingResult => ({ policy, sessions: 100, coldStartRate, unusedMinutesPerSession });

/** An evaluation whose validation figures are given; the test-part rows only carry the adaptive window's id. */
function evaluation(hybrid: TimingResult, adaptive: TimingResult, others: TimingResult[]): TimingEvaluation {
  return {
    splitAt: 0,
    validateFrom: 0,
    chosen: { costPerMinute: 0.0005, training: adaptive, hybridTraining: hybrid },
    chosenOthers: others.map((r) => ({ id: r.policy, knob: 0.005, training: r })),
    rows: [result(adaptive.policy, 0, 0)],
  };
}

test('the best timing policy is the coldest on validation within the hybrid’s unused time, never one over it', () => {
  const hybrid = result('hybrid-histogram', 0.7, 168);
  // The LoRA stream's case: the adaptive window's grid had no knob within budget, so its knob is the
  // coldest of all (over budget); a hazard policy within budget is colder than the hybrid.
  const over = result('adaptive-window(0.0005)', 0.5, 324);
  assert.equal(bestTimingPolicy(evaluation(hybrid, over, [result('hazard-window(0.005)', 0.69, 150)])), 'hazard-window(0.005)');
  // Nothing learnt beats the hybrid within budget: the report stands by the hybrid, named as such.
  assert.equal(bestTimingPolicy(evaluation(hybrid, over, [result('hazard-window(0.005)', 0.72, 150)])), 'hybrid-histogram');
  // A tie with the hybrid is not a win.
  assert.equal(bestTimingPolicy(evaluation(hybrid, result('adaptive-window(0.001)', 0.7, 160), [])), 'hybrid-histogram');
  // Within budget, the coldest wins.
  assert.equal(bestTimingPolicy(evaluation(hybrid, result('adaptive-window(0.001)', 0.4, 168), [result('hazard-window(0.005)', 0.6, 100)])), 'adaptive-window(0.001)');
});
