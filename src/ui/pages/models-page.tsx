import type { CategoryModelsView, SelectionView } from '../../dashboard/views';
import { api } from '../api';
import { LoadStatus } from '../components/status';
import { TimeChart } from '../components/time-chart';
import { dateTime } from '../format';
import { useLoad } from '../use-load';

export function ModelsPage() {
  const [load] = useLoad((signal) => api.models(signal), 'models');
  return (
    <main id="main" class="page" aria-labelledby="page-title">
      <header class="page-head">
        <div>
          <h1 id="page-title">Models</h1>
          <p class="lede">Per category, the backtest of <code>prescient train</code>: every model against every baseline, and the one selected per target.</p>
        </div>
      </header>
      <LoadStatus load={load} what="the models" />
      {load.state === 'ready' && load.data.categories.length === 0 ? <p class="empty">No category has been trained: run <code>prescient train --category C</code>.</p> : null}
      {load.state === 'ready' ? load.data.categories.map((c) => <Category key={c.category} c={c} />) : null}
    </main>
  );
}

function Category({ c }: { c: CategoryModelsView }) {
  return (
    <section class="card" aria-labelledby={`cat-${c.category}`}>
      <h2 id={`cat-${c.category}`}>
        {c.category} <span class="muted small">version {c.version} · trained {dateTime(c.createdAt)} · {c.subjects} subjects · from the {c.source.split(':')[0]}</span>
      </h2>
      <div class="selections">
        {c.selections.map((s) => (
          <Selection key={s.target} s={s} />
        ))}
      </div>
      {c.heldOut?.length ? (
        c.heldOut.map((h) => (
          <TimeChart
            key={h.target}
            label={`${h.target}: the selected model's forecast against the held-out part`}
            summary={`${h.t.length} held-out points.`}
            t={h.t}
            series={[
              { label: 'held out', values: h.actual, color: '#334155' },
              { label: 'forecast', values: h.forecast, color: '#d97706', dash: [6, 4], width: 2 },
            ]}
            unit={h.target}
          />
        ))
      ) : (
        <p class="notice small">This training run stored backtest scores only, not the held-out series: there is no forecast-against-held-out chart to draw for {c.category}.</p>
      )}
    </section>
  );
}

function Selection({ s }: { s: SelectionView }) {
  const sorted = [...s.candidates].sort((a, b) => (s.better === 'lower' ? a.score - b.score : b.score - a.score));
  return (
    <div class="selection">
      <h3>
        {s.target} <span class="muted small">{s.metric} ({s.better} is better)</span>
      </h3>
      <table class="table compact">
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col" class="num">
              {s.metric}
            </th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((c) => (
            <tr key={c.model} class={c.model === s.selected ? 'is-selected' : ''}>
              <th scope="row">
                {c.model}
                {c.model === s.selected ? <span class="tag">selected</span> : null}
              </th>
              <td class="num">{Number.isFinite(c.score) ? c.score.toFixed(3) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
