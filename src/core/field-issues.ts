import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** One problem of an input, named by its field. */
export interface FieldIssue {
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
export function toIssues(error: z.ZodError): FieldIssue[] {
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
