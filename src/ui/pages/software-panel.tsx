import type { ClientPageView, VersionView } from '../../dashboard/views';
import { api } from '../api';
import { percent } from '../format';
import { useLoad } from '../use-load';

interface AccuracyRow {
  name: string;
  used: boolean;
  detail?: string;
}

/**
 * The accuracy API of the in-guest agent answers in its own shape; the page takes what it can
 * name (a package or program and whether it was used) and otherwise falls back to telemetry.
 */
function accuracyRows(body: unknown): AccuracyRow[] | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const o = body as Record<string, unknown>;
  const list = [o['software'], o['packages'], o['programs']].find(Array.isArray) as unknown[] | undefined;
  if (!list) return undefined;
  const rows = list.flatMap((x): AccuracyRow[] => {
    if (!x || typeof x !== 'object') return [];
    const r = x as Record<string, unknown>;
    const name = r['name'] ?? r['package'] ?? r['program'];
    if (typeof name !== 'string') return [];
    const used = r['used'] ?? r['observed'] ?? r['hit'];
    return [{ name, used: used === true || (typeof used === 'number' && used > 0) }];
  });
  return rows.length ? rows : undefined;
}

export function SoftwarePanel({ data, version }: { data: ClientPageView; version: VersionView | undefined }) {
  const [accuracy] = useLoad((signal) => (data.accuracyApi ? api.accuracy(data.clientId, signal) : Promise.resolve(undefined)), `accuracy:${data.clientId}:${data.accuracyApi}`);
  const fromAgent = accuracy.state === 'ready' ? accuracyRows(accuracy.data) : undefined;
  const launches = new Map(data.used.map((u) => [u.program, u.launches]));
  const software = version?.software ?? [];
  const installed = new Set(version?.packages ?? []);
  const predictedPrograms = new Set(software.flatMap((s) => s.programs));
  const unpredicted = data.used.filter((u) => !predictedPrograms.has(u.program)).slice(0, 12);
  return (
    <section class="card" aria-labelledby="software-title">
      <h2 id="software-title">Predicted software against what was used</h2>
      <p class="muted small">
        {fromAgent ? 'Observed: the in-guest agent (accuracy API).' : 'Observed: program launches in the telemetry of the last two weeks (the in-guest accuracy API has no figures for this client).'} Prediction of v{version?.version ?? '—'}.
      </p>
      {software.length === 0 ? (
        <p class="empty">This version predicted no software.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Predicted software">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Probability</th>
                <th scope="col">In the image</th>
                <th scope="col">Programs</th>
                <th scope="col">Used</th>
              </tr>
            </thead>
            <tbody>
              {software.map((s) => {
                const agent = fromAgent?.find((r) => r.name === s.name || s.programs.includes(r.name));
                const n = s.programs.reduce((a, p) => a + (launches.get(p) ?? 0), 0);
                const used = agent ? agent.used : n > 0;
                return (
                  <tr key={s.name}>
                    <th scope="row">{s.name}</th>
                    <td>
                      <span class="prob" aria-hidden="true">
                        <span class="prob-bar" style={{ width: `${Math.round(s.probability * 100)}%` }} />
                      </span>{' '}
                      {percent(s.probability)}
                    </td>
                    <td>{s.inImage === 'installed' || installed.has(s.name) ? 'installed' : s.inImage === 'base' ? <span class="muted">in the base</span> : <span class="muted">left out</span>}</td>
                    <td class="small">{s.programs.join(', ') || '—'}</td>
                    <td>{used ? <span class="badge badge-prebuilt">used{agent ? '' : ` · ${n} launches`}</span> : <span class="badge badge-muted">not seen</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {unpredicted.length ? (
        <p class="small">
          <strong>Used but not predicted:</strong> {unpredicted.map((u) => `${u.program} (${u.launches})`).join(', ')}
        </p>
      ) : null}
    </section>
  );
}
