import { z } from 'zod';
import { telemetryEventSchema } from '../contracts/telemetry-event.js';

export const telemetryEventSchemaId = 'https://prescient.dev/telemetry-event/v1.schema.json' as const;

/**
 * The TelemetryEvent as JSON Schema (draft 2020-12), for whoever writes telemetry outside this
 * code base (an agent, a Collector pipeline, a script posting NDJSON). Generated from the zod
 * schema ingest validates with; the checked-in schemas/telemetry-event-v1.schema.json is this,
 * kept equal by a test (scripts/schemas rewrites it).
 */
export function telemetryEventJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(telemetryEventSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: telemetryEventSchemaId,
    title: 'TelemetryEvent',
    description: 'One observation about a subject (resource sample, app launch, command, network flow, data access); POST /v1/telemetry takes them as NDJSON, one per line.',
  };
}
