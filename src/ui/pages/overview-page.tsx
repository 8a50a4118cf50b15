import { useMemo, useState } from 'preact/hooks';
import type { ClientSummaryView, OverviewView } from '../../dashboard/views';
import { api } from '../api';
import { AnswerBadge, FreshnessDot } from '../components/badges';
import { ScrollTable } from '../components/scroll-table';
import { LoadStatus } from '../components/status';
import { TimeChart, type ChartSeries } from '../components/time-chart';
import { ago, dateTime, percent } from '../format';
import { useLoad } from '../use-load';

export function OverviewPage() {
  const [load] = useLoad((signal) => api.overview(signal), 'overview');
  return (
    <main id="main" class="page" aria-labelledby="page-title">
      <header class="page-head">
        <div>
          <h1 id="page-title">Fleet</h1>
          <p class="lede">Every client Prescient prepares images for: how it was last answered, what is building, and whether its telemetry is fresh.</p>
        </div>
      </header>
      <LoadStatus load={load} what="the fleet" />
      {load.state === 'ready' ? <Overview data={load.data} /> : null}
    </main>
  );
}

function Overview({ data }: { data: OverviewView }) {
  const now = Date.parse(data.generatedAt);
  const asked = data.clients.reduce((a, c) => a + c.requests.total, 0);
  const hits = data.clients.reduce((a, c) => a + c.requests.prebuilt, 0);
  const stale = data.clients.filter((c) => c.telemetryLastMs === undefined || now - c.telemetryLastMs > 86_400_000).length;
  return (
    <>
      <section class="kpis" aria-label="Fleet figures">
        <Kpi label="Clients" value={String(data.clients.length)} />
        <Kpi label="Proactive hit rate" value={asked ? percent(hits / asked) : '—'} note={asked ? `${hits} of ${asked} requests prebuilt` : 'no client request yet'} />
        <Kpi label="Builds running / queued" value={`${data.builds.running} / ${data.builds.queued}`} />
        <Kpi label="Failed builds" value={String(data.builds.failed)} tone={data.builds.failed ? 'bad' : undefined} />
        <Kpi label="Telemetry older than a day" value={String(stale)} tone={stale ? 'warn' : undefined} />
      </section>
      <section class="card" aria-labelledby="hit-title">
        <h2 id="hit-title">Proactive hit rate over time</h2>
        <HitRateChart data={data} />
      </section>
      <section class="card" aria-labelledby="clients-title">
        <h2 id="clients-title">Clients</h2>
        <ClientTable clients={data.clients} now={now} />
      </section>
    </>
  );
}

function Kpi(props: { label: string; value: string; note?: string; tone?: 'bad' | 'warn' | undefined }) {
  return (
    <div class={`kpi ${props.tone ? `kpi-${props.tone}` : ''}`}>
      <div class="kpi-label">{props.label}</div>
      <div class="kpi-value">{props.value}</div>
      {props.note ? <div class="kpi-note">{props.note}</div> : null}
    </div>
  );
}

function HitRateChart({ data }: { data: OverviewView }) {
  const { t, series } = useMemo(() => {
    // Every day of the last two weeks (at least), days without a request included: a rate needs its calendar.
    const byDay = new Map(data.hitRate.map((p) => [p.day, p]));
    const day = 86_400_000;
    const last = Math.floor(Date.parse(data.generatedAt) / day) * day;
    const first = Math.min(last - 13 * day, ...data.hitRate.map((p) => Date.parse(`${p.day}T00:00:00Z`)));
    const days: string[] = [];
    for (let d = first; d <= last; d += day) days.push(new Date(d).toISOString().slice(0, 10));
    const t = days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
    const series: ChartSeries[] = [
      { label: 'hit rate', values: days.map((d) => { const p = byDay.get(d); return p?.requests ? (100 * p.prebuilt) / p.requests : null; }), color: '#2563eb', width: 2, fill: 'rgba(37, 99, 235, 0.08)' },
    ];
    return { t, series };
  }, [data]);
  if (data.hitRate.length === 0) return <p class="empty">No client has asked for an image yet: the rate starts with the first request (builds ahead by <code>prepare</code> are not requests).</p>;
  const last = data.hitRate.at(-1)!;
  return (
    <TimeChart
      label="Share of client requests answered from an image built ahead, per day"
      summary={`${data.hitRate.length} days with requests; on ${last.day}, ${last.prebuilt} of ${last.requests} requests were prebuilt.`}
      t={t}
      series={series}
      unit="%"
      height={180}
      yMin={0}
    />
  );
}

/** A page of a large fleet at a time: a thousand rows are slow to draw and nobody reads them at once. */
const pageSize = 100;

const attention = (c: ClientSummaryView): number => (c.builds.failed ? 0 : c.builds.active ? 1 : c.lastAnswer?.source === 'last-good' || c.lastAnswer?.source === 'error' ? 2 : 3);

function ClientTable({ clients: all, now }: { clients: ClientSummaryView[]; now: number }) {
  const [query, setQuery] = useState('');
  const [shown, setShown] = useState(pageSize);
  const [needsAttention, setNeedsAttention] = useState(false);
  const filtered = useMemo(() => {
    const q = query.trim().toLowerCase();
    const list = all.filter((c) => (!q || c.clientId.includes(q) || (c.category ?? '').toLowerCase().includes(q)) && (!needsAttention || attention(c) < 3));
    return needsAttention ? [...list].sort((a, b) => attention(a) - attention(b)) : list;
  }, [all, query, needsAttention]);
  if (all.length === 0) return <p class="empty">No client yet: run <code>prescient prepare CLIENT</code> or let a client ask.</p>;
  const clients = filtered.slice(0, shown);
  return (
    <>
      {all.length > 8 ? (
        <div class="table-tools">
          <label>
            Find{' '}
            <input type="search" value={query} placeholder="client or category" onInput={(e) => { setQuery((e.target as HTMLInputElement).value); setShown(pageSize); }} aria-controls="clients-table" />
          </label>
          <label class="check">
            <input type="checkbox" checked={needsAttention} onChange={(e) => setNeedsAttention((e.target as HTMLInputElement).checked)} aria-controls="clients-table" /> only those needing attention (failed, building, last-good)
          </label>
          <span class="muted small" role="status" aria-live="polite">
            {clients.length} of {filtered.length} shown{filtered.length !== all.length ? ` (${all.length} in all)` : ''}
          </span>
        </div>
      ) : null}
      <ClientRows clients={clients} now={now} />
      {filtered.length > shown ? (
        <button type="button" class="btn more" onClick={() => setShown((n) => n + pageSize)}>
          Show {Math.min(pageSize, filtered.length - shown)} more
        </button>
      ) : null}
    </>
  );
}

function ClientRows({ clients, now }: { clients: ClientSummaryView[]; now: number }) {
  return (
    <ScrollTable label="Clients table, scrolls sideways on narrow screens" id="clients-table" describedBy="clients-title" columns={['Client', 'Category', 'Last request', 'Answered', 'Hit rate', 'Builds', 'Telemetry', 'Consent']}>
      {clients.map((c) => (
        <tr key={c.clientId} data-client={c.clientId}>
          <th scope="row">
            <a href={`/ui/clients/${c.clientId}`}>{c.clientId}</a>
          </th>
          <td>{c.category ?? <span class="muted">—</span>}</td>
          <td title={dateTime(c.lastRequestAt ?? c.lastAnswer?.at)}>{c.lastRequestAt ? ago(c.lastRequestAt, now) : c.lastAnswer ? <span class="muted">built ahead {ago(c.lastAnswer.at, now)}</span> : '—'}</td>
          <td class="answer">
            <AnswerBadge source={c.lastAnswer?.source} proactive={c.lastAnswer?.proactive ?? false} />
            {c.lastAnswer?.version !== undefined ? <span class="muted small"> v{c.lastAnswer.version}</span> : null}
          </td>
          <td>{c.requests.total ? `${percent(c.requests.prebuilt / c.requests.total)} (${c.requests.prebuilt}/${c.requests.total})` : <span class="muted">—</span>}</td>
          <td>
            {c.builds.active ? <span class={`badge badge-${c.builds.active.state}`}>{c.builds.active.state}</span> : null}
            {c.builds.failed ? (
              <span class="badge badge-error" title={c.builds.failed.message}>
                failed
              </span>
            ) : null}
            {c.builds.failed ? <div class="error-text small">{c.builds.failed.code}: {c.builds.failed.message}</div> : null}
            {!c.builds.active && !c.builds.failed ? <span class="muted">idle</span> : null}
          </td>
          <td>
            <FreshnessDot lastMs={c.telemetryLastMs} now={now} /> {c.telemetryLastMs === undefined ? 'none' : ago(c.telemetryLastMs, now)}
          </td>
          <td>{c.consent.granted ? <span class="badge badge-consent">in-guest</span> : <span class="muted">none</span>}</td>
        </tr>
      ))}
    </ScrollTable>
  );
}
