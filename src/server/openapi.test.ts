import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServe } from '../../test/support/serve.js';
import { openApiPath } from './openapi.js';

test('GET /openapi.json lists exactly the routes serve answers, with the zod schemas they validate with', async () => {
  const home = await mkdtemp(join(tmpdir(), 'prescient-openapi-'));
  const serve = await startServe(home);
  try {
    const doc = (await (await fetch(`${serve.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { summary: string; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; parameters?: { name: string; in: string }[]; responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }> }>> };
    const table = (await (await fetch(`${serve.url}/v1/routes`)).json()) as { routes: { methods: string[]; path: string; summary: string }[] };
    assert.equal(doc.openapi, '3.1.0');
    const fromTable = new Set(table.routes.flatMap((r) => r.methods.map((m) => `${m.toLowerCase()} ${openApiPath(r.path)}`)));
    const fromDoc = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    assert.deepEqual([...fromDoc].sort(), [...fromTable].sort());
    assert.ok(fromDoc.has('get /openapi.json') && fromDoc.has('post /v1/requests') && fromDoc.has('get /v2/{path}'));
    // Every route answers something other than the 404 of an unknown route (so the document names no route that is not there).
    for (const key of fromDoc) {
      const [method, path] = key.split(' ') as [string, string];
      if (method !== 'get') continue;
      const r = await fetch(`${serve.url}${path.replace(/\{[^}]+\}/g, 'x')}`);
      const body = await r.text();
      assert.ok(r.status !== 404 || !/route|not found/i.test(body) || path.startsWith('/v2/') || path.includes('{'), `${key}: ${r.status} ${body.slice(0, 120)}`);
    }
    // The request body schema is the zod schema the route validates with.
    const body = doc.paths['/v1/requests']!['post']!.requestBody!.content['application/json']!.schema as { properties: Record<string, unknown>; additionalProperties: boolean };
    assert.deepEqual(Object.keys(body.properties).sort(), ['account', 'base', 'clientId', 'parameters']);
    assert.equal(body.additionalProperties, false);
    const query = doc.paths['/v1/usage-vectors']!['get']!.parameters!.map((p) => p.name);
    assert.ok(query.includes('client'), query.join(','));
    const ndjson = doc.paths['/v1/telemetry']!['post']!.requestBody!.content['application/x-ndjson']!.schema as { oneOf: unknown[] };
    assert.equal(ndjson.oneOf.length, 5);
    // OTLP: the JSON mapping's schema, and the protobuf media types beside it.
    const otlp = doc.paths['/v1/metrics']!['post']!.requestBody!.content;
    assert.deepEqual(Object.keys(otlp).sort(), ['application/json', 'application/protobuf', 'application/x-protobuf']);
    assert.ok('resourceMetrics' in (otlp['application/json']!.schema as { properties: Record<string, unknown> }).properties);
    // Telemetry ingest answers 429 past its admission bounds (telemetry-admission.test.ts drives real ones): listed with
    // Retry-After and the body of each route's error shape; a route without such a bound lists no 429.
    const throttled = (path: string) => doc.paths[path]!['post']!.responses['429'];
    assert.ok(throttled('/v1/telemetry')?.headers?.['Retry-After'] && throttled('/v1/metrics')?.headers?.['Retry-After']);
    assert.deepEqual(Object.keys(throttled('/v1/metrics')!.content!).sort(), ['application/json', 'application/x-protobuf']);
    assert.equal(throttled('/v1/requests'), undefined);
  } finally {
    await serve.stop();
    await rm(home, { recursive: true, force: true });
  }
});
