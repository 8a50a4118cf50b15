import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { makePrivateDir, writePrivateFile } from '../core/private-file.js';
import type { SavedModel, TrainingReport } from './models/model.js';
import type { PackageSetParams } from './package-set/package-set.js';
import type { Selection } from './selector.js';

/**
 * Trained models, versioned per scope (a category, or one client). Each training run writes a
 * new immutable version folder with every model, its training report and backtest metrics, then
 * moves the scope's `current` pointer to it (write-then-rename, so a reader never sees half a
 * version). Prediction loads the current version; an older one stays loadable by number.
 */
export interface Scope {
  kind: 'category' | 'client';
  id: string;
}

/** What a category (or client) looked like at training time: the cold-start answer. */
export interface SubjectProfile {
  subjects: number;
  capacity?: { cpuCores: number; memoryMiB: number };
  /** Peak forecasts (percent of capacity) per target and horizon in steps, median over subjects. */
  peaks: Record<string, Record<string, number>>;
  /** What the allocation margin is added to (a model's allocation output), median over subjects; absent: the peak. */
  allocationBases?: Record<string, Record<string, number>>;
  /** Median of the p95 of the last day per rate metric (KB/s). */
  rates: Record<string, number>;
  /** Programs with the share of subjects' recent launches. */
  programs: { program: string; share: number }[];
  /** Allocation margins (percentage points) calibrated per target and horizon. */
  margins: Record<string, Record<string, number>>;
  /** Held-out figures used for confidence (0–1 each). */
  skill: Record<string, number>;
  /** Program → Debian package for the programs seen, from the distribution's own file lists. */
  packages: Record<string, string>;
  /**
   * The software-set predictor's settings per horizon (`day`, `week`), chosen on the training
   * part, with the population prior and the bytes of the packages it may name.
   */
  packageSets?: Record<string, StoredPackageSet>;
}

export interface StoredPackageSet {
  items: number;
  /** The settings whose shares are averaged (chosen on validation). */
  settings?: PackageSetParams[];
  /** Before `settings`: the one setting (model sets stored by earlier versions). */
  halfLifeLaunches?: number;
  priorWeight?: number;
  /** Share per byte a package needs to be carried (the fewest bytes within half a point of every package seen, on validation). */
  threshold: number;
  prior: Record<string, number>;
  bytes: Record<string, number>;
}

export interface ModelSet {
  scope: Scope;
  version: number;
  createdAt: string;
  source: string;
  selections: Selection[];
  reports: TrainingReport[];
  /** Every model trained for a target (cpuPercent, memoryPercent, software). */
  models: (SavedModel & { target: string })[];
  profile: SubjectProfile;
}

const scopeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

export function scopeDir(root: string, scope: Scope): string {
  if (!scopeIdPattern.test(scope.id)) throw new ValidationError(scope.kind === 'category' ? '--category' : '--client', `not a valid id: ${JSON.stringify(scope.id)}`);
  return join(root, `${scope.kind}-${scope.id}`);
}

export async function saveModelSet(root: string, set: Omit<ModelSet, 'version'>): Promise<ModelSet> {
  const dir = scopeDir(root, set.scope);
  // Models are fitted to clients' behaviour: private like the telemetry they come from.
  await makePrivateDir(root);
  await makePrivateDir(dir);
  const versions = await listVersions(root, set.scope);
  const version = (versions.at(-1) ?? 0) + 1;
  const full: ModelSet = { ...set, version };
  const file = join(dir, `v${version}.json`);
  await writePrivateFile(file, JSON.stringify(full));
  await writePrivateFile(join(dir, 'current'), `${version}\n`);
  return full;
}

export async function listVersions(root: string, scope: Scope): Promise<number[]> {
  const names = await readdir(scopeDir(root, scope)).catch(() => [] as string[]);
  return names.map((n) => /^v(\d+)\.json$/.exec(n)?.[1]).filter((v): v is string => v !== undefined).map(Number).sort((a, b) => a - b);
}

/** The version `current` points at (one small read: what a long-running predictor checks per request). */
export async function currentVersion(root: string, scope: Scope): Promise<number | undefined> {
  const text = await readFile(join(scopeDir(root, scope), 'current'), 'utf8').catch(() => undefined);
  const v = text === undefined ? NaN : Number(text.trim());
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The current (or a given) version of a scope, or undefined when the scope was never trained. */
export async function loadModelSet(root: string, scope: Scope, version?: number): Promise<ModelSet | undefined> {
  const dir = scopeDir(root, scope);
  const v = version ?? (await currentVersion(root, scope));
  if (v === undefined) return undefined;
  const text = await readFile(join(dir, `v${v}.json`), 'utf8').catch(() => undefined);
  if (text === undefined) {
    if (version !== undefined) throw new NotFoundError(`no version ${version} of ${scope.kind} ${scope.id}`);
    return undefined;
  }
  return JSON.parse(text) as ModelSet;
}
