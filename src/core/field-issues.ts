import type { z } from 'zod';
import { ConfigFileError, ValidationError } from './errors.js';

/** One problem of an input, named by its field. */
export interface FieldIssue {
  /** Dotted field path, array indices in brackets: `software[2].name`. */
  path: string;
  message: string;
}

/**
 * A zod path as a field name. `root` names the value the path starts from (`registry`,
 * `files[2]`, a flag) for inputs that are one part of something larger: the path is then
 * inside it, and an empty path is the value itself. Without it an empty path is `(root)`.
 */
export function formatIssuePath(path: readonly PropertyKey[], root?: string): string {
  let out = root ?? '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** zod issues as paths and messages (an unknown key named by its own path), inside `root` if given. */
export function toIssues(error: z.ZodError, root?: string): FieldIssue[] {
  return error.issues.map((issue) => {
    // An unknown key is reported on its parent; name the key itself so the user finds it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    return keys.map((key) => ({
      path: formatIssuePath(key === undefined ? issue.path : [...issue.path, key], root),
      message: key === undefined ? issue.message : 'unknown field',
    }));
  }).flat();
}

/** The first problem of an input, for an edge that reports one at a time in an error of its own kind. */
export function firstIssue(error: z.ZodError, root?: string): FieldIssue {
  return toIssues(error, root)[0] ?? { path: formatIssuePath([], root), message: 'invalid' };
}

export interface FirstIssueErrorOptions {
  /** The name of the value the paths start from (see formatIssuePath). */
  root?: string;
  /** The file the input was read from: the message names it (`… (in /home/policy.json)`), as details.source. */
  file?: string | undefined;
  details?: Record<string, unknown>;
}

/**
 * The first problem of any input as one ValidationError naming its field (an unknown key by
 * itself): what an edge that reports one problem at a time throws.
 */
export function firstIssueError(error: z.ZodError, options: FirstIssueErrorOptions = {}): ValidationError {
  const issue = firstIssue(error, options.root);
  if (options.file === undefined) return new ValidationError(issue.path, issue.message, options.details);
  return new ConfigFileError(options.file, issue.path, `${issue.message} (in ${options.file})`, options.details);
}
