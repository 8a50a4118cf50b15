import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError } from '../../core/errors.js';
import { trainLoop } from './train-loop.js';

test('every epoch covers each sample once, in consecutive batches, and reports its mean loss', async () => {
  const batches: string[] = [];
  const epochs: { index: number; meanLoss: number; batches: number }[] = [];
  const run = await trainLoop({
    id: 'toy',
    epochs: 2,
    samples: 10,
    batchSize: 4,
    startedAt: performance.now(),
    timeBudgetMs: Infinity,
    step: ({ from, size }) => (batches.push(`${from}+${size}`), size),
    endEpoch: (e) => epochs.push(e),
  });
  assert.deepEqual(run, { epochs: 2, stoppedBy: 'epochs' });
  assert.deepEqual(batches, ['0+4', '4+4', '8+2', '0+4', '4+4', '8+2']);
  assert.deepEqual(epochs, [0, 1].map((index) => ({ index, meanLoss: 10 / 3, batches: 3 })));
});

test('the time budget ends training between batches and keeps the epochs done; a cut epoch is not reported', async () => {
  const startedAt = performance.now();
  let steps = 0;
  const ended: number[] = [];
  const run = await trainLoop({
    id: 'toy',
    epochs: 1000,
    samples: 64,
    batchSize: 8,
    startedAt,
    timeBudgetMs: 200,
    step: () => {
      steps++;
      const until = performance.now() + 5;
      while (performance.now() < until); // a batch's worth of work
      return 1;
    },
    endEpoch: ({ index }) => ended.push(index),
  });
  assert.equal(run.stoppedBy, 'time budget');
  assert.ok(run.epochs < 1000 && run.epochs === ended.length, JSON.stringify({ run, ended }));
  assert.ok(steps >= run.epochs * 8 && steps < (run.epochs + 1) * 8);
});

test('an abort stops training at the next batch, also while the loop yields, with AbortedError naming the model', async () => {
  const controller = new AbortController();
  let steps = 0;
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(
    trainLoop({
      id: 'toy',
      epochs: Infinity,
      samples: 16,
      batchSize: 1,
      startedAt: performance.now(),
      timeBudgetMs: Infinity,
      signal: controller.signal,
      step: () => ++steps,
    }),
    (e: unknown) => e instanceof AbortedError && /training toy/.test(e.message),
  );
  assert.ok(steps > 8, 'the loop yielded to the timer only after running batches');
});
