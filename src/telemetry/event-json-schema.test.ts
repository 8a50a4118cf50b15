import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { repoPath } from '../../test/support/repo.js';
import { eventKinds } from '../contracts/telemetry-event.js';
import { telemetryEventJsonSchema } from './event-json-schema.js';

test('the checked-in telemetry event JSON Schema is the one generated from the zod schema', () => {
  const generated = telemetryEventJsonSchema();
  const file = JSON.parse(readFileSync(repoPath('schemas/telemetry-event-v1.schema.json'), 'utf8'));
  assert.deepEqual(file, generated, 'out of date: run bash scripts/schemas');
});

test('it names every event kind and carries the rules ingest applies', () => {
  const s = telemetryEventJsonSchema() as { oneOf: { properties: Record<string, { const?: string; pattern?: string; enum?: string[] }> }[] };
  assert.deepEqual(s.oneOf.map((k) => k.properties['kind']?.const).sort(), [...eventKinds].sort());
  const resource = s.oneOf.find((k) => k.properties['kind']?.const === 'resource')!;
  const category = new RegExp(resource.properties['category']!.pattern!);
  assert.ok(category.test('web-frontend') && !category.test('Web Frontend'));
  assert.deepEqual(resource.properties['source']!.enum, ['hypervisor', 'app-log', 'agent']);
});
