import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backtestSequences } from '../../evaluate-sequences.js';
import { createNgramMix } from '../ngram-mix/ngram-mix.js';
import { createResourceBaseline } from './resource-baselines.js';
import { createSequenceBaseline } from './sequence-baselines.js';

test('resource baselines read only the past of each origin', () => {
  const s = Float64Array.from({ length: 600 }, (_, i) => i % 288);
  const at = (id: Parameters<typeof createResourceBaseline>[0], t: number, h = 12): number => createResourceBaseline(id).predict({ series: s, origins: [t], horizon: h })[0]!;
  assert.equal(at('last-value', 300), 11);
  assert.equal(at('moving-average-12', 300), (0 + 11) / 2);
  assert.equal(at('moving-p95-12', 24), 23 - 0.05 * 11);
  // Same hours yesterday: steps 12..23 of the previous day for origin 300 = 288 + 12.
  assert.equal(at('seasonal-naive', 300, 1), 12);
  const changed = s.slice();
  changed.fill(1000, 300);
  assert.equal(createResourceBaseline('moving-p95-288').predict({ series: changed, origins: [300], horizon: 12 })[0], createResourceBaseline('moving-p95-288').predict({ series: s, origins: [300], horizon: 12 })[0]);
});

test('sequence baselines and the n-gram mixture on streams with known answers', async () => {
  // "a a b" repeated: after "a" the next item depends on the item before, which only an
  // order-2 context sees; the first-order chain is right 2 times in 3 at best.
  const stream = Array.from({ length: 600 }, (_, i) => ['a', 'a', 'b'][i % 3]!);
  const models = [createSequenceBaseline('most-frequent'), createSequenceBaseline('most-recent'), createSequenceBaseline('markov-1'), createNgramMix()];
  for (const m of models) await m.fit([stream.slice(0, 300)]);
  const r = Object.fromEntries(backtestSequences([stream], models, { trainItems: 300, testItems: 300, blockItems: 30, recallKs: [1, 2] }).map((x) => [x.model, x]));
  assert.ok(Math.abs(r['most-frequent']!.top1 - 2 / 3) < 0.01);
  assert.ok(r['markov-1']!.top1 <= 2 / 3 + 0.01, `markov-1 top-1 ${r['markov-1']!.top1}`);
  assert.ok(r['ngram-mix']!.top1 > 0.99, `ngram-mix top-1 ${r['ngram-mix']!.top1}`);
  assert.equal(r['ngram-mix']!.top5, 1);
  assert.equal(r['markov-1']!.recallAtK['2'], 1);
});

test('a sequence model saves and loads its pooled prior (the cold-start answer)', async () => {
  const m = createNgramMix();
  await m.fit([['ls', 'ls', 'make', 'ls']]);
  const copy = createNgramMix();
  await copy.load(JSON.parse(JSON.stringify(await m.save())));
  assert.deepEqual(copy.predict({ history: [] }).rank(2), ['ls', 'make']);
  const base = createSequenceBaseline('markov-1');
  await base.fit([['x', 'y', 'x']]);
  const loaded = createSequenceBaseline('markov-1');
  await loaded.load(JSON.parse(JSON.stringify(await base.save())));
  assert.deepEqual(loaded.predict({ history: [] }).rank(1), ['x']);
});
