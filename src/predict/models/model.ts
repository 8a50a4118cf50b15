/**
 * One interface for every predictor, baseline or network: fit on training data, predict, save
 * to JSON, load from JSON. Each model carries an id and a version (bumped when its features or
 * maths change, so a stored model is never loaded into code that reads it differently) and fit
 * returns a training report that the model store keeps beside the weights.
 */
export interface FitOptions {
  signal?: AbortSignal;
  /** Stop improving (keep what is learnt so far) after this long. */
  timeBudgetMs?: number;
  /** Called now and then with a short status ("epoch 2/5 loss 0.0123"). */
  onProgress?: (text: string) => void;
  seed?: number;
}

export interface TrainingReport {
  modelId: string;
  modelVersion: string;
  trainedAt: string;
  durationMs: number;
  samples: number;
  /** Model-specific figures: epochs, final loss, vocabulary size… */
  details: Record<string, number | string | boolean>;
}

export interface SavedModel {
  id: string;
  version: string;
  /** JSON-serialisable state: parameters, counts, or weights (base64). */
  state: unknown;
}

export interface Model<Data, Query, Prediction> {
  readonly id: string;
  readonly version: string;
  fit(data: Data, options?: FitOptions): Promise<TrainingReport>;
  predict(query: Query): Prediction;
  save(): Promise<SavedModel>;
  load(saved: SavedModel): Promise<void>;
}

/** Resource models forecast the `quantile` of a series over the next `horizon` steps from each origin. */
export interface ResourceQuery {
  series: Float64Array;
  /** Index of the first unseen step; the model sees series[0 .. origin-1]. */
  origins: readonly number[];
  horizon: number;
}
export type ResourceModel = Model<readonly Float64Array[], ResourceQuery, Float64Array> & {
  readonly kind: 'resource';
  /**
   * What the allocation policy adds its margin to, when that is not the peak forecast itself: a
   * model may learn a separate allocation output (see lstm-quantile). Absent: the forecast.
   */
  allocationBasis?(query: ResourceQuery): Float64Array;
  /**
   * The rule a learnt model still is at `horizon` when training never beat its starting point on
   * validation (its forecasts are then that rule's): reported and selected under the rule's name.
   */
  fellBackTo?(horizon: number): string | undefined;
};

/** Sequence models rank the next item; a session is one subject's online stream. */
export interface SequenceSession {
  /** The k most likely next items, best first. */
  rank(k: number): string[];
  /** Probabilities of the most likely next items (for sets and confidence). */
  distribution(k: number): { item: string; p: number }[];
  observe(item: string): void;
}
export interface SequenceQuery {
  /** What the subject did before, oldest first (its own training history). */
  history: readonly string[];
}
export type SequenceModel = Model<readonly (readonly string[])[], SequenceQuery, SequenceSession> & { readonly kind: 'sequence' };

export function trainingReport(model: { id: string; version: string }, startedAt: number, samples: number, details: TrainingReport['details'] = {}): TrainingReport {
  return {
    modelId: model.id,
    modelVersion: model.version,
    trainedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - startedAt),
    samples,
    details,
  };
}
