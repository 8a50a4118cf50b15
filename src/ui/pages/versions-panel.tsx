import { useState } from 'preact/hooks';
import type { ClientPageView, VersionDiffView, VersionView } from '../../dashboard/views';
import { api } from '../api';
import { ScrollTable } from '../components/scroll-table';
import { LoadStatus } from '../components/status';
import { bytes, dateTime, percent, shortDigest } from '../format';
import { useLoad } from '../use-load';

/** Versions as a lineage (each names the one it was built after), and a diff between any two. */
export function VersionsPanel({ data }: { data: ClientPageView }) {
  const newest = [...data.versions].reverse();
  const [to, setTo] = useState<number | undefined>(newest[0]?.version);
  const [from, setFrom] = useState<number | undefined>(newest[1]?.version ?? newest[0]?.version);
  return (
    <section class="card" aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      {newest.length === 0 ? (
        <p class="empty">No version registered yet.</p>
      ) : (
        <div class="versions">
          <ol class="lineage" aria-label="Version lineage, newest first">
            {newest.map((v) => (
              <Version key={v.version} v={v} latest={data.latest} />
            ))}
          </ol>
          <div class="diff">
            <h3>Compare</h3>
            <div class="diff-pick">
              <VersionPick label="From" versions={newest} value={from} onPick={setFrom} />
              <VersionPick label="To" versions={newest} value={to} onPick={setTo} />
            </div>
            {from !== undefined && to !== undefined ? <Diff clientId={data.clientId} from={from} to={to} /> : null}
          </div>
        </div>
      )}
    </section>
  );
}

/** One end of the diff: a version picked from the lineage. */
function VersionPick({ label, versions, value, onPick }: { label: string; versions: VersionView[]; value: number | undefined; onPick: (version: number) => void }) {
  return (
    <label>
      {label}{' '}
      <select value={String(value ?? '')} onChange={(e) => onPick(Number((e.target as HTMLSelectElement).value))}>
        {versions.map((v) => (
          <option key={v.version} value={String(v.version)}>
            v{v.version}
          </option>
        ))}
      </select>
    </label>
  );
}

function Version({ v, latest }: { v: VersionView; latest: number | undefined }) {
  const moving = v.tags.filter((t) => !/^v\d+$/.test(t));
  return (
    <li class={`lineage-item ${v.version === latest ? 'is-latest' : ''}`} data-version={v.version}>
      <span class="lineage-dot" aria-hidden="true" />
      <div class="lineage-body">
        <div class="lineage-title">
          <strong>v{v.version}</strong>
          {moving.map((t) => (
            <span key={t} class="tag">
              {t}
            </span>
          ))}
          <span class="muted small">{dateTime(v.created)}</span>
        </div>
        <div class="small">
          {v.parentVersion !== undefined ? `built after v${v.parentVersion}` : 'first version'} · {v.vcpus ?? '?'} vCPU · {v.memoryMiB ?? '?'} MiB · {v.packages.length} packages · {bytes(v.sizeBytes)} manifest
        </div>
        {v.notes.length ? (
          <ul class="notes small">
            {v.notes.slice(0, 3).map((n, i) => (
              <li key={i}>
                <span class="muted">{n.module}:</span> {n.note}
              </li>
            ))}
          </ul>
        ) : null}
        <div class="small muted">
          {v.model ? `model ${v.model.id}@${v.model.version}` : 'no model recorded'} · confidence {percent(v.confidence)} · <code>{shortDigest(v.digest)}</code>
        </div>
      </div>
    </li>
  );
}

function Diff(props: { clientId: string; from: number; to: number }) {
  const [load] = useLoad((signal) => api.diff(props.clientId, props.from, props.to, signal), `${props.clientId}:${props.from}:${props.to}`);
  if (props.from === props.to) return <p class="empty">Pick two different versions.</p>;
  return (
    <div aria-live="polite">
      <LoadStatus load={load} what="the diff" />
      {load.state === 'ready' ? <DiffTable diff={load.data} /> : null}
    </div>
  );
}

function DiffTable({ diff }: { diff: VersionDiffView }) {
  const fmt = (x: unknown): string => (x === undefined ? '—' : typeof x === 'string' ? x : JSON.stringify(x));
  return (
    <>
      <p class="small">
        v{diff.from} → v{diff.to}: {diff.layers.shared} layers shared, {diff.layers.added} new, {diff.layers.removed} dropped; files: {diff.files.added.length} added, {diff.files.removed.length} removed, {diff.files.changed.length} changed.
      </p>
      {diff.changes.length === 0 ? (
        <p class="empty">No package or resource changed.</p>
      ) : (
        <ScrollTable
          label={`Changes from v${diff.from} to v${diff.to}`}
          tableClass="diff-table"
          caption={`Changes from v${diff.from} to v${diff.to}, with the prediction behind each`}
          columns={['Change', 'From → to', 'Why (prediction, model, probability)']}
        >
          {diff.changes.map((c, i) => (
            <tr key={i} class={`change-${c.change}`}>
              <th scope="row">
                <span class={`sign sign-${c.change}`} aria-label={c.change}>
                  {c.change === 'added' ? '+' : c.change === 'removed' ? '−' : '~'}
                </span>{' '}
                {c.subject}
              </th>
              <td>{c.change === 'changed' ? `${fmt(c.from)} → ${fmt(c.to)}` : c.change}</td>
              <td class="small">
                {c.why?.probability !== undefined ? <span class="chip">p = {percent(c.why.probability)}</span> : null}
                {c.why?.model ? <span class="chip">{c.why.model}</span> : null}
                {c.why?.detail ? <span>{c.why.detail}</span> : null}
                {c.why?.vectorGeneratedAt ? <span class="muted"> · predicted {dateTime(c.why.vectorGeneratedAt)}</span> : null}
              </td>
            </tr>
          ))}
        </ScrollTable>
      )}
      {diff.files.changed.length || diff.files.added.length ? (
        <p class="small muted">
          Files: {[...diff.files.added.map((f) => `+${f}`), ...diff.files.removed.map((f) => `−${f}`), ...diff.files.changed.map((f) => `~${f}`)].slice(0, 12).join(', ')}
        </p>
      ) : null}
    </>
  );
}
