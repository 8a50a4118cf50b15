import { ValidationError } from '../core/errors.js';
import { join } from 'node:path';
import { FileIdentityCache } from '../core/file-identity.js';
import { currentVersion, scopeDir, type Scope } from '../predict/model-store.js';
import { defaultModelId } from '../contracts/default-vector.js';
import type { TelemetryStore } from '../store/store.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import type { Predictor } from '../contracts/predictor.js';

export interface TrainedPredictorDeps {
  /** The trained models over the telemetry store (`createPredictor` of src/predict). */
  models: Predictor;
  modelsDir: string;
  store: Pick<TelemetryStore, 'subject'>;
  /** A client id as telemetry stores it: its keyed pseudonym (`anonymiser.pseudonym('client', id)`). */
  pseudonym: (clientId: string) => string;
  /** Who answers when neither the client nor its category was ever trained. */
  fallback: Predictor;
  /** How long a vector is reused while nothing it depends on changed (default 15 min). */
  reuseMs?: number;
  now?: () => number;
}

/**
 * The workflow's predictor over the trained models. Telemetry is stored under pseudonyms, so
 * the client id from identification is pseudonymised before the history and the client's own
 * models are looked up; a client with no model of its own gets its category's (the cold start);
 * when neither was ever trained, `fallback` answers (the category vectors of
 * `category-vectors.json`, else the small default vector). Either way the vector names the client
 * by its pseudonym, as the usage-vector schema asks.
 *
 * A vector is reused while the client's data (its latest event) and the models' versions stay
 * the same, for at most `reuseMs`: a repeated request — a prebuilt hit — then costs a few small
 * reads instead of a forecast. New data or a new model makes a new vector at once; whether that
 * vector is worth a new image is the plan's call (see `annotations.planDigest`).
 */
export function trainedPredictor(deps: TrainedPredictorDeps): Predictor {
  const reuseMs = deps.reuseMs ?? 15 * 60 * 1000;
  const now = deps.now ?? Date.now;
  const memo = new Map<string, { state: string; at: number; vector: UsageVector }>();
  // `current` is re-read only when `train` (another process, by rename) replaced it: a stat per request.
  const currents = new FileIdentityCache<number | undefined>();
  const versionOf = (scope: Scope): Promise<number | undefined> => currents.get(join(scopeDir(deps.modelsDir, scope), 'current'), () => currentVersion(deps.modelsDir, scope));

  /** Everything a vector depends on besides the clock: the client's latest data and both model versions. */
  const stateOf = async (subject: string, category: string): Promise<string> => {
    const [found, own, shared] = await Promise.all([
      deps.store.subject(subject),
      versionOf({ kind: 'client', id: subject }),
      versionOf({ kind: 'category', id: category }),
    ]);
    const info = found?.kind === 'client' ? found : undefined;
    return `${info?.lastMs ?? '-'}/${info?.category ?? '-'}/${own ?? '-'}/${shared ?? '-'}`;
  };

  return {
    async predict({ clientId, category, signal }) {
      // The workflow always names both (identification gives every client a category).
      if (clientId === undefined || category === undefined) throw new ValidationError('clientId', 'the workflow predicts for a client of a category');
      const subject = deps.pseudonym(clientId);
      const key = `${clientId}\n${category}`;
      const state = await stateOf(subject, category);
      const known = memo.get(key);
      if (known && known.state === state && now() - known.at < reuseMs) return known.vector;
      const predicted = await deps.models.predict({ clientId: subject, category, ...(signal ? { signal } : {}) });
      const vector = predicted.model.id === defaultModelId ? await deps.fallback.predict({ clientId: subject, category, ...(signal ? { signal } : {}) }) : predicted;
      if (memo.size >= 10_000) memo.clear();
      memo.set(key, { state, at: now(), vector });
      return vector;
    },
  };
}
