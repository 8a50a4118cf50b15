/**
 * The narrow view of stored telemetry that prediction needs. Prediction never reads the store
 * or trace files itself: it takes a HistorySource, so the same features, training and backtests
 * run over the SQLite store (an adapter added with the store) or straight over the public
 * traces (dataset-history.ts).
 */

export const resourceStepMs = 5 * 60 * 1000;

export interface Subject {
  /** Pseudonymised client id (or a VM / user id in a trace). */
  id: string;
  category: string;
}

/**
 * 5-minute rollups of one subject, column by column (a month of one VM is ~8,000 steps; arrays of
 * numbers keep features and models fast). Missing metrics are absent, not zero-filled.
 */
export interface ResourceSeries {
  subjectId: string;
  startMs: number;
  stepMs: number;
  /** CPU use in % of the provisioned capacity. */
  cpuPercent: Float64Array;
  /** Memory use in % of the provisioned memory. */
  memoryPercent?: Float64Array;
  diskReadKBps?: Float64Array;
  diskWriteKBps?: Float64Array;
  networkInKBps?: Float64Array;
  networkOutKBps?: Float64Array;
  /** What the subject was given (the last observed values), to turn percentages into sizes. */
  capacity?: { cpuCores: number; cpuMhz: number; memoryMiB: number };
}

/** One program launch or command, in order. Traces without times (Schonlau) give positions only. */
export interface LaunchEvent {
  program: string;
  timeMs?: number;
}

export interface NetworkFlow {
  direction: 'inbound' | 'outbound';
  /** Local port for inbound (a listening service), remote port for outbound. */
  port: number;
  protocol: 'tcp' | 'udp';
  /** Remote host for outbound flows. */
  host?: string;
  count: number;
}

/**
 * Data the subject was seen using: an observation, never an instruction. `target` is what the
 * event named (a path, a URI, a dataset name); only a name in the admin's dataset catalogue
 * ever becomes a dataset of a vector (predict-vector.ts), and never as a host path.
 */
export interface DataAccess {
  target: string;
  sizeBytes: number;
  count: number;
}

/**
 * What a client's in-guest agents saw it do (sources with such data only): the loop from a
 * delivered machine back into its next prediction (src/predict/guest-feedback.ts).
 */
export interface GuestUse {
  /** How long in-guest data covers (the sum of the image versions' spans), ms. */
  observedMs: number;
  /** Packages installed by hand after delivery. */
  installedPackages: string[];
  /** Programs launched inside the guest. */
  launchedPrograms: string[];
  /** Inbound ports that received connections. */
  busyPorts: number[];
}

export interface HistorySource {
  /** A short description for reports ("bitbrains:/path"). */
  readonly name: string;
  subjects(signal?: AbortSignal): Promise<Subject[]>;
  resourceSeries(subjectId: string, signal?: AbortSignal): Promise<ResourceSeries | undefined>;
  launches(subjectId: string, signal?: AbortSignal): Promise<LaunchEvent[]>;
  networkFlows(subjectId: string, signal?: AbortSignal): Promise<NetworkFlow[]>;
  dataAccesses(subjectId: string, signal?: AbortSignal): Promise<DataAccess[]>;
  /** In-guest use, when the source has any for the subject. */
  guestUse?(subjectId: string, signal?: AbortSignal): Promise<GuestUse | undefined>;
}
