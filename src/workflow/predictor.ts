import type { UsageVector } from '../usage-vector/schema.js';

/**
 * What the workflow needs from prediction: a usage vector for a client of a category. The
 * config-file adapter (category-predictor.ts) stands in until the trained predictor is plugged in.
 */
export interface Predictor {
  predict(input: { clientId: string; category: string; signal?: AbortSignal }): Promise<UsageVector>;
}
