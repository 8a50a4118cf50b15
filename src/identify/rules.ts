import { readOptionalJsonFile } from '../core/optional-json-file.js';
import { z } from 'zod';
import { categorySchema } from '../contracts/category.js';
import { clientIdSchema } from '../contracts/identifiers.js';
import { firstIssueError } from '../core/field-issues.js';


const regexSchema = z.string().min(1).refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** A known account: the account names its client and category outright. */
const accountRuleSchema = z.strictObject({
  kind: z.literal('account'),
  account: z.string().min(1),
  clientId: clientIdSchema,
  category: categorySchema,
});

/** Request parameters that must all be equal; the client id is the account's (or the one asked for). */
const parametersRuleSchema = z.strictObject({
  kind: z.literal('parameters'),
  match: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length > 0, 'needs at least one parameter'),
  category: categorySchema,
});

/**
 * A pattern over the account or one parameter (`field`: `account` or `parameters.<name>`).
 * `clientId` may use the regex's named groups as `$<name>`, so `^(?<team>[a-z]+)-ci$` → `ci-$<team>`.
 */
const patternRuleSchema = z.strictObject({
  kind: z.literal('pattern'),
  field: z.string().regex(/^(?:account|parameters\.[^.]+)$/, '`account` or `parameters.<name>`'),
  regex: regexSchema,
  clientId: z.string().min(1).optional(),
  category: categorySchema,
});

export const identifyRuleSchema = z.discriminatedUnion('kind', [accountRuleSchema, parametersRuleSchema, patternRuleSchema]);
export type IdentifyRule = z.infer<typeof identifyRuleSchema>;

export const identifyConfigSchema = z.strictObject({
  /** Tried in order; the first rule that matches decides. */
  rules: z.array(identifyRuleSchema).default([]),
  /** The category of a client no rule recognises. */
  fallbackCategory: categorySchema.default('general'),
});
export type IdentifyConfig = z.infer<typeof identifyConfigSchema>;

/** Validate a parsed config; the error names the first offending field (`rules[2].regex`). */
export function parseIdentifyConfig(value: unknown, file?: string): IdentifyConfig {
  const result = identifyConfigSchema.safeParse(value);
  if (result.success) return result.data;
  throw firstIssueError(result.error, { file });
}

export async function loadIdentifyConfig(file: string): Promise<IdentifyConfig> {
  return parseIdentifyConfig((await readOptionalJsonFile(file)) ?? {}, file);
}
