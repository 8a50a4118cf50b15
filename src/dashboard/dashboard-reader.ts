import { isServerSideCode, NotFoundError, serverSideMessage } from '../core/errors.js';
import { checkClientId } from '../contracts/identifiers.js';
import { loadModelSet, type ModelSet } from '../predict/model-store.js';
import type { Registry } from '../registry/registry.js';
import type { TelemetryStore } from '../store/store.js';
import type { OutcomeEntry, RequestOutcomes } from '../workflow/request-outcomes.js';
import type { ActiveBuild } from '../workflow/build-flights.js';
import { describeVersion, diffView } from './version-views.js';
import { overAllocation, usageSeries } from './usage-series.js';
import type { AnswerView, CategoryModelsView, ClientPageView, ClientSummaryView, HitRatePoint, ModelsView, OverviewView, UsedProgramView, VersionDiffView, ViewerView } from './views.js';

export interface DashboardReaderDeps {
  registry: Registry;
  store: TelemetryStore;
  /** A client id as the store knows it (the keyed pseudonym). */
  pseudonym: (clientId: string) => string;
  outcomes: Pick<RequestOutcomes, 'load'>;
  /** Builds of this server queued or running now. */
  activeBuilds: () => Iterable<ActiveBuild>;
  modelsDir: string;
  /** Whether the server also serves the accuracy API of the in-guest agent (asked per page: routes are assembled after the reader). */
  accuracyApi?: () => boolean;
  now?: () => Date;
}

const clientPrefix = 'clients/';

/**
 * The dashboard's read model: everything it shows, gathered from where Prescient already keeps
 * it — the registry (versions, provenance), the telemetry store (usage, freshness, consent), the
 * outcome log (how each request was answered) and the model store (backtests). It decides
 * nothing about who may see what: the routes pass in a viewer already checked.
 */
export class DashboardReader {
  constructor(private readonly deps: DashboardReaderDeps) {}

  async overview(viewer: ViewerView): Promise<OverviewView> {
    const [repositories, outcomes, subjects, consented] = await Promise.all([
      this.deps.registry.repositories(),
      this.deps.outcomes.load().then((o) => shownTo(viewer, o)),
      this.deps.store.listSubjects({ kind: 'client' }),
      this.deps.store.consentedPseudonyms(),
    ]);
    const ids = new Set<string>();
    for (const r of repositories) if (r.startsWith(clientPrefix)) ids.add(r.slice(clientPrefix.length));
    for (const o of outcomes) ids.add(o.clientId);
    const visible = [...ids].filter((id) => viewer.kind === 'admin' || id === viewer.clientId).sort();
    const seen = new Set(visible);
    const mineOnly = outcomes.filter((o) => seen.has(o.clientId));
    const byClient = groupBy(mineOnly, (o) => o.clientId);
    const subjectBy = new Map(subjects.map((s) => [s.subject, s]));
    const consentBy = new Map(consented.map((c) => [c.pseudonym, c.grantedAtMs]));
    const active = [...this.deps.activeBuilds()].filter((b) => seen.has(b.clientId));
    const clients = visible.map((clientId) => summarise(clientId, byClient.get(clientId) ?? [], subjectBy.get(this.deps.pseudonym(clientId)), consentBy.get(this.deps.pseudonym(clientId)), active));
    return {
      generatedAt: (this.deps.now?.() ?? new Date()).toISOString(),
      clients,
      hitRate: hitRate(mineOnly),
      builds: {
        running: active.filter((b) => b.state === 'running').length,
        queued: active.filter((b) => b.state === 'queued').length,
        failed: clients.filter((c) => c.builds.failed).length,
      },
      viewer,
    };
  }

  async clientPage(clientId: string, viewer: ViewerView): Promise<ClientPageView> {
    const repository = repositoryOf(clientId);
    const [versionInfos, tags, outcomes, subjects, consented] = await Promise.all([
      this.deps.registry.versions(repository).catch(() => []),
      this.deps.registry.tags(repository).catch(() => new Map<string, string>()),
      this.deps.outcomes.load().then((o) => shownTo(viewer, o)),
      this.deps.store.listSubjects({ kind: 'client' }),
      this.deps.store.consentedPseudonyms(),
    ]);
    const mine = outcomes.filter((o) => o.clientId === clientId);
    const subject = this.deps.pseudonym(clientId);
    const info = subjects.find((s) => s.subject === subject);
    if (versionInfos.length === 0 && mine.length === 0 && !info) throw new NotFoundError(`no client ${clientId}`);
    const versions = await Promise.all(versionInfos.map(async (v) => describeVersion(v, await this.deps.registry.config(v.digest), versionInfos)));
    const latestDigest = tags.get('latest');
    const latest = versionInfos.find((v) => v.digest === latestDigest)?.version;
    const rollups = info ? await this.deps.store.rollups(subject, { fromMs: info.lastMs - 14 * 86_400_000, toMs: info.lastMs + 1 }) : [];
    const usage = usageSeries(rollups);
    const current = versions.find((v) => v.version === latest);
    const summary = summarise(clientId, mine, info, consented.find((c) => c.pseudonym === subject)?.grantedAtMs, [...this.deps.activeBuilds()]);
    return {
      clientId,
      category: summary.category,
      summary,
      usage,
      versions,
      ...(latest !== undefined ? { latest } : {}),
      overAllocation: current ? overAllocation(usage, { cpuCores: current.vcpus, memoryMiB: current.memoryMiB }) : [],
      used: info ? await this.used(subject, info.lastMs) : [],
      answers: mine.slice(-20).reverse().map(answerOf),
      viewer,
      accuracyApi: this.deps.accuracyApi?.() === true,
    };
  }

  async diff(clientId: string, from: number, to: number): Promise<VersionDiffView> {
    const repository = repositoryOf(clientId);
    const versions = await this.deps.registry.versions(repository);
    const a = versions.find((v) => v.version === from);
    const b = versions.find((v) => v.version === to);
    if (!a) throw new NotFoundError(`${repository} has no version ${from}`);
    if (!b) throw new NotFoundError(`${repository} has no version ${to}`);
    const diff = await this.deps.registry.diff(`${repository}@${a.digest}`, `${repository}@${b.digest}`);
    return diffView(from, to, diff, await this.deps.registry.config(b.digest));
  }

  async models(): Promise<ModelsView> {
    const outcomes = await this.deps.outcomes.load();
    const subjects = await this.deps.store.listSubjects({ kind: 'client' });
    const categories = new Set<string>([...outcomes.map((o) => o.category), ...subjects.flatMap((s) => (s.category ? [s.category] : []))]);
    const out: CategoryModelsView[] = [];
    for (const category of [...categories].sort()) {
      let set: ModelSet | undefined;
      try {
        set = await loadModelSet(this.deps.modelsDir, { kind: 'category', id: category });
      } catch {
        continue; // a category name that is no valid scope id was never trained
      }
      if (!set) continue;
      out.push({
        category,
        version: set.version,
        createdAt: set.createdAt,
        source: set.source,
        subjects: set.profile.subjects,
        selections: set.selections.map((s) => ({ target: s.target, metric: s.metric, better: s.better, selected: s.selected, candidates: s.candidates.map((c) => ({ model: c.model, score: c.score })) })),
        reports: set.reports.map((r) => ({ modelId: r.modelId, modelVersion: r.modelVersion, durationMs: r.durationMs, samples: r.samples })),
      });
    }
    return { categories: out };
  }

  /** Programs launched over the last two weeks, most launched first. */
  private async used(subject: string, lastMs: number): Promise<UsedProgramView[]> {
    const items = await this.deps.store.sequence(subject, { fromMs: lastMs - 14 * 86_400_000, toMs: lastMs + 1, kinds: ['launch', 'command'], limit: 200_000 });
    const by = new Map<string, UsedProgramView>();
    for (const i of items) {
      // Launches name the executable's path, predictions the program: compare by base name.
      const name = i.name.slice(i.name.lastIndexOf('/') + 1) || i.name;
      const e = by.get(name) ?? { program: name, launches: 0, lastMs: 0 };
      e.launches++;
      e.lastMs = Math.max(e.lastMs, i.time);
      by.set(name, e);
    }
    return [...by.values()].sort((a, b) => b.launches - a.launches).slice(0, 50);
  }
}

export function repositoryOf(clientId: string): string {
  return `${clientPrefix}${checkClientId(clientId)}`;
}

function summarise(
  clientId: string,
  outcomes: readonly OutcomeEntry[],
  subject: { category: string | null; lastMs: number } | undefined,
  consentAt: number | undefined,
  active: readonly ActiveBuild[],
): ClientSummaryView {
  const last = outcomes.at(-1);
  const asked = outcomes.filter((o) => !o.proactive);
  const lastGood = outcomes.findLast((o) => o.source !== 'error' && o.source !== 'last-good');
  const lastBad = outcomes.findLast((o) => o.source === 'error' || o.source === 'last-good');
  const building = active.find((b) => b.clientId === clientId && b.state === 'running') ?? active.find((b) => b.clientId === clientId);
  const latestVersion = outcomes.findLast((o) => o.version !== undefined)?.version;
  return {
    clientId,
    category: last?.category ?? subject?.category ?? null,
    ...(last ? { lastAnswer: answerOf(last) } : {}),
    ...(asked.length ? { lastRequestAt: asked.at(-1)!.at } : {}),
    requests: { total: asked.length, prebuilt: asked.filter((o) => o.source === 'prebuilt').length },
    builds: {
      ...(building ? { active: { state: building.state, since: building.since } } : {}),
      ...(lastBad?.error && (!lastGood || lastBad.at > lastGood.at) ? { failed: { at: lastBad.at, ...lastBad.error } } : {}),
    },
    ...(latestVersion !== undefined ? { latestVersion } : {}),
    ...(subject ? { telemetryLastMs: subject.lastMs } : {}),
    consent: consentAt === undefined ? { granted: false } : { granted: true, at: consentAt },
  };
}

/**
 * What a client was told of a server-side failure when it asked, it is told here too: the words
 * (a path, a tool's) are the admin's. Older lines have no serverSide flag, only their code.
 */
function shownTo(viewer: ViewerView, outcomes: OutcomeEntry[]): OutcomeEntry[] {
  if (viewer.kind === 'admin') return outcomes;
  return outcomes.map((o) => {
    const e = o.error;
    if (!e || !(e.serverSide || isServerSideCode(e.code))) return o;
    return { ...o, error: { code: e.code, message: serverSideMessage(o.requestId), serverSide: true } };
  });
}

function answerOf(o: OutcomeEntry): AnswerView {
  return { at: o.at, source: o.source, proactive: o.proactive, ...(o.version !== undefined ? { version: o.version } : {}), ...(o.error ? { error: o.error } : {}), totalMs: o.totalMs };
}

/** Per UTC day, the clients' own requests and how many were answered from an image built ahead. */
function hitRate(outcomes: readonly OutcomeEntry[]): HitRatePoint[] {
  const days = new Map<string, HitRatePoint>();
  for (const o of outcomes) {
    if (o.proactive) continue;
    const day = o.at.slice(0, 10);
    const p = days.get(day) ?? { day, requests: 0, prebuilt: 0 };
    p.requests++;
    if (o.source === 'prebuilt') p.prebuilt++;
    days.set(day, p);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = out.get(k);
    if (list) list.push(i);
    else out.set(k, [i]);
  }
  return out;
}
