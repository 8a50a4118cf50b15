import { z } from 'zod';
import { usageVectorSchema, usageVectorSchemaVersion } from '../contracts/usage-vector.js';

/**
 * The UsageVector as JSON Schema (draft 2020-12) for tools outside this code base. The
 * checked-in copy schemas/usage-vector-v1.schema.json is generated from this and a test keeps
 * them equal; `prescient vector schema` prints it.
 */
export function usageVectorJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(usageVectorSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return { ...schema, $id: `https://${usageVectorSchemaVersion}.schema.json`, title: 'UsageVector' };
}
