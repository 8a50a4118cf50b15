import { z } from 'zod';

/**
 * The probability from which a module puts a predicted item (a package, a service, a dataset)
 * into the image: the one default and range of the `threshold` option the software, services
 * and data modules share. Each module says in `description` what it includes.
 */
export const defaultInclusionThreshold = 0.5;

export function inclusionThresholdSchema(description: string): z.ZodDefault<z.ZodNumber> {
  return z.number().min(0).max(1).default(defaultInclusionThreshold).describe(description);
}

/**
 * Whether a predicted item is in: at least `threshold` likely. An item with no probability (a
 * service of a hand-written vector) is meant to be there.
 */
export function meetsThreshold(probability: number | undefined, threshold: number): boolean {
  return (probability ?? 1) >= threshold;
}
