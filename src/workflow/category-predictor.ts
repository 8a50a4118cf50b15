import { readOptionalJsonFile } from '../core/optional-json-file.js';
import { ValidationError } from '../core/errors.js';
import type { UsageVector } from '../usage-vector/schema.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import type { Predictor } from './predictor.js';

/**
 * The vector of a category nothing is known about: a small general-purpose VM with no extra
 * software, services, datasets or open ports (2 vCPUs, 2 GiB, 8 GiB disk). Fixed dates keep its
 * digest stable, so identical requests share one build.
 */
export const defaultVectorTemplate = {
  schemaVersion: 'prescient.dev/usage-vector/v1',
  subject: { category: 'general' },
  horizon: { startsAt: '2026-01-01T00:00:00Z', hours: 24 },
  generatedAt: '2026-01-01T00:00:00Z',
  model: { id: 'category-default', version: '1' },
  confidence: 0.5,
  resources: { vcpus: 2, memoryMiB: 2048, diskGiB: 8, expectedP95CpuPercent: 30, expectedP95MemoryMiB: 1024, diskReadKBps: 50, diskWriteKBps: 50, networkInKBps: 100, networkOutKBps: 100 },
  software: [],
  services: [],
  datasets: [],
  network: { inbound: [], outbound: [], proxy: null },
} as const;

/**
 * A predictor from a JSON file `{ "<category>": <usage vector>, … }`: each client of a category
 * gets that vector with its own subject. An unknown category gets `defaultVectorTemplate`.
 */
export class CategoryVectorPredictor implements Predictor {
  constructor(private readonly byCategory: ReadonlyMap<string, UsageVector>) {}

  static fromObject(value: unknown, source = 'category vectors'): CategoryVectorPredictor {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(source, 'must be an object keyed by category');
    const map = new Map<string, UsageVector>();
    for (const [category, vector] of Object.entries(value)) {
      try {
        map.set(category, parseUsageVector(vector));
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(`${category}.${e.field}`, e.message.slice(e.field.length + 2), { source });
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


  predict(input: { clientId: string; category: string }): Promise<UsageVector> {
    const template = this.byCategory.get(input.category) ?? parseUsageVector(defaultVectorTemplate);
    return Promise.resolve({ ...template, subject: { clientId: input.clientId, category: input.category } });
  }
}
