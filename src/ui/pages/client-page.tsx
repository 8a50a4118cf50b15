import { useMemo, useState } from 'preact/hooks';
import type { ClientPageView, VersionView, ViewerView } from '../../dashboard/views';
import { api, ApiError } from '../api';
import { AnswerBadge } from '../components/badges';
import { ConfirmDialog } from '../components/confirm-dialog';
import { ScrollTable } from '../components/scroll-table';
import { LoadStatus } from '../components/status';
import { TimeChart, type ChartSeries } from '../components/time-chart';
import { ago, dateTime, num, percent } from '../format';
import { useLoad } from '../use-load';
import { VersionsPanel } from './versions-panel';
import { SoftwarePanel } from './software-panel';

export function ClientPage(props: { clientId: string; viewer: ViewerView }) {
  const [load, reload] = useLoad((signal) => api.client(props.clientId, signal), `client:${props.clientId}`);
  return (
    <main id="main" class="page" aria-labelledby="page-title">
      <nav class="crumbs" aria-label="Breadcrumb">
        {props.viewer.kind === 'admin' ? <a href="/ui/">Fleet</a> : <a href="/ui/">My images</a>}
        <span aria-hidden="true"> / </span>
        <span aria-current="page">{props.clientId}</span>
      </nav>
      <LoadStatus load={load} what={`client ${props.clientId}`} />
      {load.state === 'ready' ? <Client data={load.data} reload={reload} /> : load.state === 'loading' ? null : <h1 id="page-title">{props.clientId}</h1>}
    </main>
  );
}

function Client({ data, reload }: { data: ClientPageView; reload: () => void }) {
  const [shown, setShown] = useState<number | undefined>(data.latest);
  const version = data.versions.find((v) => v.version === shown) ?? data.versions.find((v) => v.version === data.latest);
  const s = data.summary;
  return (
    <>
      <header class="page-head">
        <div>
          <h1 id="page-title">{data.clientId}</h1>
          <p class="lede">
            {data.category ? <span class="chip">{data.category}</span> : null}
            {data.latest !== undefined ? <span class="chip">latest → v{data.latest}</span> : <span class="chip">no version yet</span>}
            <span class="chip">
              last answer: <AnswerBadge source={s.lastAnswer?.source} proactive={s.lastAnswer?.proactive ?? false} /> {s.lastAnswer ? ago(s.lastAnswer.at) : ''}
            </span>
            <span class="chip">telemetry {s.telemetryLastMs === undefined ? 'none' : ago(s.telemetryLastMs)}</span>
            <span class="chip">in-guest consent {s.consent.granted ? 'given' : 'none'}</span>
          </p>
        </div>
        {data.viewer.kind === 'admin' ? <AdminActions data={data} reload={reload} /> : null}
      </header>
      {s.builds.failed ? (
        <div class="notice notice-error" role="alert">
          <strong>Last build failed</strong> ({dateTime(s.builds.failed.at)}): {s.builds.failed.code}: {s.builds.failed.message}
        </div>
      ) : null}
      {s.builds.active ? (
        <div class="notice" role="status">
          A build is {s.builds.active.state} since {dateTime(s.builds.active.since)}.
        </div>
      ) : null}
      <section class="card" aria-labelledby="usage-title">
        <div class="card-head">
          <h2 id="usage-title">Resource usage against the forecast and the allocation</h2>
          {data.versions.length > 1 ? (
            <label class="inline-field">
              Drawn for{' '}
              <select value={String(version?.version ?? '')} onChange={(e) => setShown(Number((e.target as HTMLSelectElement).value))}>
                {data.versions.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version}
                    {v.version === data.latest ? ' (latest)' : ''}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
        </div>
        <UsageCharts data={data} version={version} />
      </section>
      <SoftwarePanel data={data} version={version} />
      <VersionsPanel data={data} />
      <section class="card" aria-labelledby="answers-title">
        <h2 id="answers-title">Recent answers</h2>
        {data.answers.length === 0 ? (
          <p class="empty">No request or build ahead recorded yet.</p>
        ) : (
          <ScrollTable label="Recent answers" columns={['When', 'Who', 'Answered', 'Version', 'Time', 'Error']}>
            {data.answers.map((a, i) => (
              <tr key={i}>
                <td>{dateTime(a.at)}</td>
                <td>{a.proactive ? 'built ahead' : 'client request'}</td>
                <td>
                  <AnswerBadge source={a.source} />
                </td>
                <td>{a.version !== undefined ? `v${a.version}` : '—'}</td>
                <td>{a.totalMs < 1000 ? `${a.totalMs.toFixed(0)} ms` : `${(a.totalMs / 1000).toFixed(1)} s`}</td>
                <td class="error-text">{a.error ? `${a.error.code}: ${a.error.message}` : ''}</td>
              </tr>
            ))}
          </ScrollTable>
        )}
      </section>
    </>
  );
}

function UsageCharts({ data, version }: { data: ClientPageView; version: VersionView | undefined }) {
  const u = data.usage;
  const constant = (x: number | undefined): (number | null)[] => u.t.map(() => (x === undefined ? null : x));
  const cpu = useMemo<ChartSeries[]>(
    () => [
      { label: 'used (max)', values: u.cpuCoresMax, color: '#93c5fd', width: 1 },
      { label: 'used (mean)', values: u.cpuCores, color: '#1d4ed8', width: 1.5 },
      { label: 'forecast p95', values: constant(version?.forecastP95CpuCores), color: '#d97706', dash: [6, 4], width: 2 },
      { label: 'allocated vCPUs', values: constant(version?.vcpus), color: '#dc2626', width: 2 },
    ],
    [data, version],
  );
  const mem = useMemo<ChartSeries[]>(
    () => [
      { label: 'used', values: u.memoryMiB, color: '#7c3aed', width: 1.5, fill: 'rgba(124, 58, 237, 0.08)' },
      { label: 'forecast p95', values: constant(version?.forecastP95MemoryMiB), color: '#d97706', dash: [6, 4], width: 2 },
      { label: 'allocated', values: constant(version?.memoryMiB), color: '#dc2626', width: 2 },
    ],
    [data, version],
  );
  const over = useMemo(() => (version?.version === data.latest ? data.overAllocation : overOf(data, version)), [data, version]);
  if (u.t.length === 0) return <p class="empty">No resource telemetry stored for this client.</p>;
  const cpuOver = over.filter((o) => o.resource === 'cpu');
  const memOver = over.filter((o) => o.resource === 'memory');
  const peak = (xs: (number | null)[]): number => xs.reduce<number>((a, b) => (b !== null && b > a ? b : a), 0);
  return (
    <div class="charts">
      <TimeChart
        label="CPU (cores)"
        summary={`Peak use ${num(peak(u.cpuCoresMax))} cores; forecast p95 ${num(version?.forecastP95CpuCores)} cores; ${version?.vcpus ?? '—'} vCPUs allocated; ${cpuOver.length} periods above the allocation.`}
        t={u.t}
        series={cpu}
        bands={cpuOver}
        unit="cores"
      />
      <TimeChart
        label="Memory (MiB)"
        summary={`Peak use ${num(peak(u.memoryMiB), 0)} MiB; forecast p95 ${num(version?.forecastP95MemoryMiB, 0)} MiB; ${version?.memoryMiB ?? '—'} MiB allocated; ${memOver.length} periods above the allocation.`}
        t={u.t}
        series={mem}
        bands={memOver}
        unit="MiB"
      />
      <p class="legend-note">
        <span class="swatch swatch-over" aria-hidden="true" /> Shaded: use above the allocation of v{version?.version ?? '—'} ({cpuOver.length + memOver.length} periods
        {over.length ? `, longest ${Math.round(Math.max(...over.map((o) => o.toS - o.fromS)) / 60)} min` : ''}). Confidence of its prediction: {percent(version?.confidence)}.
      </p>
    </div>
  );
}

/** The same marking for a version other than latest (the server marks latest's). */
function overOf(data: ClientPageView, v: VersionView | undefined): ClientPageView['overAllocation'] {
  if (!v) return [];
  const out: ClientPageView['overAllocation'] = [];
  const scan = (resource: 'cpu' | 'memory', values: (number | null)[], limit: number | undefined): void => {
    if (limit === undefined) return;
    let open: (typeof out)[number] | undefined;
    values.forEach((x, i) => {
      const t = data.usage.t[i]!;
      if (x !== null && x > limit) {
        if (open && open.toS === t) {
          open.toS = t + data.usage.bucketSeconds;
          open.peak = Math.max(open.peak, x);
        } else out.push((open = { resource, fromS: t, toS: t + data.usage.bucketSeconds, peak: x }));
      }
    });
  };
  scan('cpu', data.usage.cpuCoresMax, v.vcpus);
  scan('memory', data.usage.memoryMiB, v.memoryMiB);
  return out;
}

type Action = { kind: 'rollback'; to: VersionView } | { kind: 'rebuild' } | { kind: 'cancel' };

function AdminActions({ data, reload }: { data: ClientPageView; reload: () => void }) {
  const [action, setAction] = useState<Action | undefined>();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: 'ok' | 'error'; text: string } | undefined>();
  const previous = data.versions.filter((v) => data.latest !== undefined && v.version < data.latest).at(-1);
  const run = async (a: Action): Promise<void> => {
    setAction(undefined);
    setBusy(true);
    setMessage(undefined);
    try {
      if (a.kind === 'rollback') {
        const r = await api.rollback(data.clientId, a.to.version);
        setMessage({ tone: 'ok', text: `latest now names v${r.version}.` });
      } else if (a.kind === 'rebuild') {
        const r = await api.rebuild(data.clientId);
        setMessage({ tone: 'ok', text: `Requested: ${r.source}${r.image.version !== undefined ? `, v${r.image.version}` : ''}.` });
      } else {
        const r = await api.cancelBuilds(data.clientId);
        setMessage({ tone: 'ok', text: r.cancelled ? `Cancelled ${r.cancelled} build(s).` : 'No build was running or queued.' });
      }
      reload();
    } catch (e) {
      setMessage({ tone: 'error', text: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions" role="group" aria-label="Admin actions">
      <button type="button" class="btn" disabled={busy || !previous} onClick={() => previous && setAction({ kind: 'rollback', to: previous })} title={previous ? `move latest to v${previous.version}` : 'no older version'}>
        Roll back{previous ? ` to v${previous.version}` : ''}
      </button>
      <button type="button" class="btn" disabled={busy} onClick={() => setAction({ kind: 'rebuild' })}>
        Rebuild
      </button>
      <button type="button" class="btn" disabled={busy || !data.summary.builds.active} onClick={() => setAction({ kind: 'cancel' })}>
        Cancel build
      </button>
      <div class="action-message" role="status" aria-live="polite">
        {busy ? 'Working…' : message ? <span class={message.tone === 'error' ? 'error-text' : 'ok-text'}>{message.text}</span> : null}
      </div>
      {action?.kind === 'rollback' ? (
        <ConfirmDialog title={`Roll back ${data.clientId}?`} confirmLabel={`Move latest to v${action.to.version}`} danger onConfirm={() => void run(action)} onCancel={() => setAction(undefined)}>
          <p>
            <code>clients/{data.clientId}:latest</code> moves from v{data.latest} to v{action.to.version} ({dateTime(action.to.created)}). Nothing is deleted; the next request is answered with v{action.to.version} unless its
            prediction plans a different image.
          </p>
        </ConfirmDialog>
      ) : null}
      {action?.kind === 'rebuild' ? (
        <ConfirmDialog title={`Rebuild ${data.clientId}?`} confirmLabel="Request the image now" onConfirm={() => void run(action)} onCancel={() => setAction(undefined)}>
          <p>Predicts again and builds if the plan changed (as the client's own request would). Builds take minutes.</p>
        </ConfirmDialog>
      ) : null}
      {action?.kind === 'cancel' ? (
        <ConfirmDialog title={`Cancel ${data.clientId}'s builds?`} confirmLabel="Cancel the builds" danger onConfirm={() => void run(action)} onCancel={() => setAction(undefined)}>
          <p>Requests waiting for them get the last good version, or an error when there is none.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
