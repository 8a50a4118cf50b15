import type { UsageVector } from './usage-vector.js';

/**
 * What a prediction is asked for: a client (as telemetry names it: its pseudonym), a category,
 * or both. The workflow always sends both; `prescient predict` and `/v1/predict` may send one.
 */
export interface PredictRequest {
  clientId?: string | undefined;
  category?: string | undefined;
  /** Length of the predicted period; 1 uses the next-hour forecasts, longer ones the next-day ones. */
  horizonHours?: number;
  now?: Date;
  signal?: AbortSignal;
}

/**
 * The one predictor contract: the trained models (predict/predict-vector.ts), the category
 * vectors file (workflow/category-predictor.ts) and the workflow's memoising predictor
 * (workflow/trained-predictor.ts) all answer it, so any of them plugs in where another did.
 */
export interface Predictor {
  predict(request: PredictRequest): Promise<UsageVector>;
}
