import type { ClientPageView, VersionView } from '../../dashboard/views';
import { api } from '../api';
import { ScrollTable } from '../components/scroll-table';
import { percent } from '../format';
import { useLoad } from '../use-load';

interface AccuracyRow {
  name: string;
  used: boolean;
  evidence: string[];
}

interface AgentVersion {
  version: number | null;
  software?: { used?: { package: string; evidence?: string[] }[]; unused?: string[]; missing?: { package: string | null; program?: string; how: string }[] };
}

/**
 * The in-guest agent's scores (`GET /v1/clients/<id>/accuracy`: per version the client ran, the
 * predicted packages used and unused, and what was used but missing) for the version shown, or
 * the newest version it scored. Undefined when it scored none: the page falls back to telemetry.
 */
function fromAgent(body: unknown, version: number | undefined): { rows: AccuracyRow[]; missing: string[]; version: number | null } | undefined {
  const versions = (body as { versions?: AgentVersion[] } | undefined)?.versions;
  if (!Array.isArray(versions) || versions.length === 0) return undefined;
  const v = versions.find((x) => x.version === version) ?? versions.at(-1)!;
  const sw = v.software ?? {};
  const rows = [...(sw.used ?? []).map((u) => ({ name: u.package, used: true, evidence: u.evidence ?? [] })), ...(sw.unused ?? []).map((name) => ({ name, used: false, evidence: [] }))];
  const missing = (sw.missing ?? []).map((m) => `${m.package ?? m.program ?? '?'} (${m.how.replace(/-/g, ' ')})`);
  return { rows, missing, version: v.version };
}

export function SoftwarePanel({ data, version }: { data: ClientPageView; version: VersionView | undefined }) {
  const [accuracy] = useLoad((signal) => (data.accuracyApi ? api.accuracy(data.clientId, signal) : Promise.resolve(undefined)), `accuracy:${data.clientId}:${data.accuracyApi}`);
  const agent = accuracy.state === 'ready' ? fromAgent(accuracy.data, version?.version) : undefined;
  const launches = new Map(data.used.map((u) => [u.program, u.launches]));
  const software = version?.software ?? [];
  const installed = new Set(version?.packages ?? []);
  const predictedPrograms = new Set(software.flatMap((s) => s.programs));
  const unpredicted = data.used.filter((u) => !predictedPrograms.has(u.program)).slice(0, 12);
  return (
    <section class="card" aria-labelledby="software-title">
      <h2 id="software-title">Predicted software against what was used</h2>
      <p class="muted small">
        {agent ? `Observed: the in-guest agent's reports from v${agent.version ?? '?'} (accuracy API).` : 'Observed: program launches in the telemetry of the last two weeks (the in-guest accuracy API has no figures for this client).'} Prediction of v{version?.version ?? '—'}.
      </p>
      {software.length === 0 ? (
        <p class="empty">This version predicted no software.</p>
      ) : (
        <ScrollTable label="Predicted software" columns={['Package', 'Probability', 'In the image', 'Programs', 'Used']}>
          {software.map((s) => {
            const seen = agent?.rows.find((r) => r.name === s.name);
            const n = s.programs.reduce((a, p) => a + (launches.get(p) ?? 0), 0);
            const used = seen ? seen.used : n > 0;
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
                <td>{used ? <span class="badge badge-prebuilt" title={seen?.evidence.join(', ')}>used{seen ? ' in the guest' : ` · ${n} launches`}</span> : <span class="badge badge-muted">not seen</span>}</td>
              </tr>
            );
          })}
        </ScrollTable>
      )}
      {agent?.missing.length ? (
        <p class="small">
          <strong>Used in the guest but not in the image:</strong> {agent.missing.join(', ')}
        </p>
      ) : null}
      {unpredicted.length ? (
        <p class="small">
          <strong>Used but not predicted:</strong> {unpredicted.map((u) => `${u.program} (${u.launches})`).join(', ')}
        </p>
      ) : null}
    </section>
  );
}
