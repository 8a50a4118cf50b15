import type { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { usageVectorSchema, type UsageVector } from '../contracts/usage-vector.js';

export interface UsageVectorIssue {
  /** Dotted field path, array indices in brackets: `software[2].name`. */
  path: string;
  message: string;
}

export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** zod issues as paths and messages (an unknown key named by its own path). */
export function toIssues(error: z.ZodError): UsageVectorIssue[] {
  return error.issues.map((issue) => {
    // An unknown key is reported on its parent; name the key itself so the user finds it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => ({
      path: formatIssuePath(key === undefined ? issue.path : [...issue.path, key]),
      message: key === undefined ? issue.message : 'unknown field',
    }));
  }).flat();
}

/**
 * The first problem of any input as one ValidationError naming its field (an unknown key by
 * itself): what an edge that reports one problem at a time throws.
 */
export function firstIssueError(error: z.ZodError, details?: Record<string, unknown>): ValidationError {
  const issue = toIssues(error)[0] ?? { path: '(root)', message: 'invalid' };
  return new ValidationError(issue.path, issue.message, details);
}

/** Every problem of a candidate vector, or none. Never throws. */
export function checkUsageVector(value: unknown): UsageVectorIssue[] {
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
  readonly issues: readonly UsageVectorIssue[];
  constructor(issues: UsageVectorIssue[], summary: string) {
    super(issues[0]?.path ?? '(root)', `invalid usage vector (${issues.length} issue${issues.length === 1 ? '' : 's'}): ${summary}`, {
      issues,
    });
    this.issues = issues;
  }
}
