/**
 * What the dashboard's read API answers: the one definition shared by the server (which builds
 * these) and the browser app in src/ui (which draws them). Plain data only — no imports — so
 * the browser build can use it as it is.
 */

export const answerSources = ['prebuilt', 'built', 'joined', 'last-good', 'error'] as const;
export type AnswerSource = (typeof answerSources)[number];

export interface AnswerView {
  at: string;
  source: AnswerSource;
  /** A build ahead (`prepare`, the proactive scheduler) rather than the client asking. */
  proactive: boolean;
  version?: number;
  error?: { code: string; message: string; serverSide?: true };
  totalMs: number;
}

export interface BuildStateView {
  /** A build of this server queued or running now. */
  active?: { state: 'queued' | 'running'; since: string };
  /** The latest answer that could not hand out the predicted image, when it is newer than the last success. */
  failed?: { at: string; code: string; message: string };
}

export interface ClientSummaryView {
  clientId: string;
  category: string | null;
  /** The latest answer of any kind (a client's request or a build ahead). */
  lastAnswer?: AnswerView;
  /** The latest time the client itself asked. */
  lastRequestAt?: string;
  /** The client's own requests and how many of them were prebuilt hits. */
  requests: { total: number; prebuilt: number };
  builds: BuildStateView;
  latestVersion?: number;
  /** Telemetry: the newest sample stored for the client (epoch ms), none when it sent none. */
  telemetryLastMs?: number;
  consent: { granted: boolean; at?: number };
}

export interface HitRatePoint {
  /** The day (UTC), `YYYY-MM-DD`. */
  day: string;
  requests: number;
  prebuilt: number;
}

export interface OverviewView {
  generatedAt: string;
  clients: ClientSummaryView[];
  hitRate: HitRatePoint[];
  builds: { running: number; queued: number; failed: number };
  /** Set for a client credential: the page shows only this client. */
  viewer: ViewerView;
}

export interface ViewerView {
  kind: 'admin' | 'client';
  clientId?: string;
}

export interface UsageSeriesView {
  /** Bucket starts, epoch seconds (what uPlot takes). */
  t: number[];
  /** CPU in use, in cores (mean and max of the bucket); null where no sample. */
  cpuCores: (number | null)[];
  cpuCoresMax: (number | null)[];
  /** Memory in use, MiB. */
  memoryMiB: (number | null)[];
  bucketSeconds: number;
}

export interface OverAllocationView {
  resource: 'cpu' | 'memory';
  fromS: number;
  toS: number;
  peak: number;
}

export interface SoftwareView {
  name: string;
  probability: number;
  programs: string[];
  /** Where the version stands on it: installed by its plan, already in the base, or left out (under the threshold). */
  inImage?: 'installed' | 'base' | 'left-out';
}

export interface ModelRefView {
  target: string;
  id: string;
  version: string;
}

export interface VersionView {
  version: number;
  digest: string;
  created?: string;
  tags: string[];
  parentVersion?: number;
  sizeBytes: number;
  vcpus?: number;
  memoryMiB?: number;
  forecastP95CpuCores?: number;
  forecastP95MemoryMiB?: number;
  confidence?: number;
  model?: { id: string; version: string; components: ModelRefView[] };
  software: SoftwareView[];
  packages: string[];
  /** What each module said about its decisions ("peak 2.16 cores … → 3 vCPUs"). */
  notes: { module: string; note: string }[];
}

export interface UsedProgramView {
  program: string;
  launches: number;
  lastMs: number;
}

export interface ClientPageView {
  clientId: string;
  category: string | null;
  summary: ClientSummaryView;
  usage: UsageSeriesView;
  versions: VersionView[];
  /** The version `latest` names. */
  latest?: number;
  overAllocation: OverAllocationView[];
  /** What telemetry says was launched (the accuracy API, when served, says more). */
  used: UsedProgramView[];
  answers: AnswerView[];
  viewer: ViewerView;
  /** `GET /v1/clients/<id>/accuracy` is served (the in-guest agent's scores); the page asks it only then. */
  accuracyApi: boolean;
}

export interface ChangeProvenanceView {
  /** `package`, or a resource field such as `vmSpec.vcpus`. */
  subject: string;
  change: 'added' | 'removed' | 'changed';
  from?: unknown;
  to?: unknown;
  /** Why (from the newer version's usage vector): the prediction behind it. */
  why?: { probability?: number; model?: string; vectorGeneratedAt?: string; detail?: string };
}

export interface VersionDiffView {
  from: number;
  to: number;
  layers: { added: number; removed: number; shared: number };
  changes: ChangeProvenanceView[];
  files: { added: string[]; removed: string[]; changed: string[] };
}

export interface CandidateView {
  model: string;
  score: number;
}

export interface SelectionView {
  target: string;
  metric: string;
  better: 'lower' | 'higher';
  selected: string;
  candidates: CandidateView[];
}

export interface CategoryModelsView {
  category: string;
  version: number;
  createdAt: string;
  source: string;
  subjects: number;
  selections: SelectionView[];
  reports: { modelId: string; modelVersion: string; durationMs: number; samples: number }[];
  /** Held-out series with the selected model's forecast, when training stored them. */
  heldOut?: { target: string; t: number[]; actual: number[]; forecast: number[] }[];
}

export interface ModelsView {
  categories: CategoryModelsView[];
}
