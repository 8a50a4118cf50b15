import type { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { toIssues, type FieldIssue } from '../core/field-issues.js';
import { usageVectorSchema, type UsageVector } from '../contracts/usage-vector.js';

/** Every problem of a candidate vector, or none. Never throws. */
export function checkUsageVector(value: unknown): FieldIssue[] {
  const result = usageVectorSchema.safeParse(value);
  return result.success ? [] : toIssues(result.error);
}

/**
 * A validated UsageVector from parsed JSON (or a JSON string). Throws one ValidationError whose
 * `field` is the first offending path and whose details list every issue with its path.
 */
export function parseUsageVector(json: unknown): UsageVector {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ValidationError('(root)', `not JSON: ${(e as Error).message}`);
    }
  }
  const result = usageVectorSchema.safeParse(value);
  if (result.success) return result.data;
  throw usageVectorError(result.error);
}

export function usageVectorError(error: z.ZodError): UsageVectorValidationError {
  const issues = toIssues(error);
  return new UsageVectorValidationError(issues, issues.map((i) => `${i.path}: ${i.message}`).join('; '));
}

/** A ValidationError that carries every issue, not just the first. */
export class UsageVectorValidationError extends ValidationError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: FieldIssue[], summary: string) {
    super(issues[0]?.path ?? '(root)', `invalid usage vector (${issues.length} issue${issues.length === 1 ? '' : 's'}): ${summary}`, {
      issues,
    });
    this.issues = issues;
  }
}
