import { readOptionalJsonFile } from '../core/optional-json-file.js';
import { ValidationError } from '../core/errors.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import { defaultVector } from '../contracts/default-vector.js';
import type { PredictRequest, Predictor } from '../contracts/predictor.js';

/**
 * Fixed dates keep the default vector's digest stable, so identical requests of a category
 * nothing is known about share one build.
 */
const fixedDates = { horizon: { startsAt: '2026-01-01T00:00:00Z', hours: 24 }, generatedAt: '2026-01-01T00:00:00Z' } as const;

/**
 * A predictor from a JSON file `{ "<category>": <usage vector>, … }`: each client of a category
 * gets that vector with its own subject. An unknown category gets the default vector
 * (contracts/default-vector.ts) with fixed dates.
 */
export class CategoryVectorPredictor implements Predictor {
  constructor(private readonly byCategory: ReadonlyMap<string, UsageVector>) {}

  static fromObject(value: unknown, file?: string): CategoryVectorPredictor {
    const inFile = file === undefined ? '' : ` (in ${file})`;
    const source = file === undefined ? {} : { source: file };
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError('(root)', `must be an object keyed by category${inFile}`, source);
    const map = new Map<string, UsageVector>();
    for (const [category, vector] of Object.entries(value)) {
      try {
        map.set(category, parseUsageVector(vector));
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(`${category}.${e.field}`, `${e.message.slice(e.field.length + 2)}${inFile}`, source);
        throw e;
      }
    }
    return new CategoryVectorPredictor(map);
  }

  /** A missing file means every category gets the default vector. */
  static async load(file: string): Promise<CategoryVectorPredictor> {
    const parsed = await readOptionalJsonFile(file);
    return parsed === undefined ? new CategoryVectorPredictor(new Map()) : CategoryVectorPredictor.fromObject(parsed, file);
  }


  predict(input: PredictRequest): Promise<UsageVector> {
    const subject = { ...(input.clientId === undefined ? {} : { clientId: input.clientId }), ...(input.category === undefined ? {} : { category: input.category }) };
    const template = (input.category === undefined ? undefined : this.byCategory.get(input.category)) ?? defaultVector({ subject, ...fixedDates });
    return Promise.resolve({ ...template, subject });
  }
}
