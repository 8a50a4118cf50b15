import { NotFoundError } from '../core/errors.js';
import { clientRepository } from '../contracts/identifiers.js';
import type { PipelinePlan } from '../pipeline/plan.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { PackageIndex } from '../predict/package-index.js';
import type { Registry } from '../registry/registry.js';
import type { GuestImageSpan, TelemetryStore } from '../store/store.js';
import type { Anonymiser } from '../telemetry/anonymise.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import { scoreVersion, type VersionAccuracy } from './score-version.js';

export interface ClientAccuracy {
  clientId: string;
  /** Every version the client ran (its agent reported from), oldest first. */
  versions: (VersionAccuracy & { version: number | null; digest: string; created: string | null })[];
}

/**
 * `GET /v1/clients/<id>/accuracy` and `prescient accuracy CLIENT`: each version of the client's
 * repository its in-guest agent reported from, scored over that version's span of in-guest data.
 * Versions never run (no agent report) are not scored; data from a version the registry no
 * longer holds is skipped (its prediction is gone).
 */
export async function clientAccuracy(deps: { registry: Registry; store: TelemetryStore; anonymiser: Anonymiser; packages: PackageIndex }, clientId: string): Promise<ClientAccuracy> {
  const repository = clientRepository(clientId);
  const versions = await deps.registry.versions(repository).catch(() => []);
  if (versions.length === 0) throw new NotFoundError(`no image versions for client ${clientId}`);
  // Spans under every key of the keyring: a rotation must not hide data recorded before it.
  const spans = new Map<string, { span: GuestImageSpan; subject: string }[]>();
  for (const subject of deps.anonymiser.pseudonymsUnderAllKeys('client', clientId)) {
    for (const span of await deps.store.guestImages(subject)) spans.set(span.image, [...(spans.get(span.image) ?? []), { span, subject }]);
  }
  const out: ClientAccuracy['versions'] = [];
  for (const v of versions) {
    const seen = spans.get(v.digest);
    if (!seen) continue;
    const config = await deps.registry.config(v.digest);
    const vector = parseUsageVector(config['usageVector']);
    const plan = config['plan'] as PipelinePlan;
    const spec = config['vmSpec'] as VmSpec;
    const fromMs = Math.min(...seen.map((s) => s.span.firstMs));
    const toMs = Math.max(...seen.map((s) => s.span.lastMs));
    const activity = { samples: [], programs: [], flows: [], accesses: [] } as Awaited<ReturnType<TelemetryStore['guestActivity']>>;
    for (const { subject } of seen) {
      const a = await deps.store.guestActivity(subject, { fromMs, toMs: toMs + 1 });
      activity.samples.push(...a.samples);
      activity.programs.push(...a.programs);
      activity.flows.push(...a.flows);
      activity.accesses.push(...a.accesses);
    }
    activity.samples.sort((a, b) => a.time - b.time);
    out.push({ version: v.version, digest: v.digest, created: v.created ?? null, ...scoreVersion({ vector, plan, spec, activity, span: { fromMs, toMs }, packages: deps.packages }) });
  }
  return { clientId, versions: out };
}
