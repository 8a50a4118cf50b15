import assert from 'node:assert/strict';
import { test } from 'node:test';
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import protobuf from 'protobufjs/minimal.js';
import { AppError } from '../../core/errors.js';
import { decodeOtlpProtobuf } from './otlp-protobuf.js';

interface MessageType {
  encode(message: object): { finish(): Uint8Array };
}
const request = (generatedRoot as unknown as { opentelemetry: { proto: { collector: { metrics: { v1: Record<string, MessageType> } } } } }).opentelemetry.proto.collector.metrics.v1['ExportMetricsServiceRequest']!;
const points = (dataPoints: object[], attributes: object[] = []) => ({ resourceMetrics: [{ resource: { attributes }, scopeMetrics: [{ metrics: [{ name: 'system.cpu.utilization', gauge: { dataPoints } }] }] }] });
const firstPoints = (v: unknown): Record<string, unknown>[] => (v as { resourceMetrics: { scopeMetrics: { metrics: { gauge: { dataPoints: Record<string, unknown>[] } }[] }[] }[] }).resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.gauge.dataPoints;

test('protobuf int64 and fixed64 come out as the JSON mapping writes them: exact decimal strings, signed and unsigned extremes', () => {
  const bytes = request.encode(points([{ timeUnixNano: '1767225600000000123', asInt: '-5' }, { asInt: '-9223372036854775808' }, { startTimeUnixNano: '18446744073709551615', asInt: '9223372036854775807' }, { asDouble: 0.25 }])).finish();
  const dps = firstPoints(decodeOtlpProtobuf(bytes));
  assert.equal(dps[0]!['timeUnixNano'], '1767225600000000123');
  assert.equal(dps[0]!['asInt'], '-5');
  assert.equal(dps[1]!['asInt'], '-9223372036854775808');
  assert.equal(dps[2]!['startTimeUnixNano'], '18446744073709551615');
  assert.equal(dps[2]!['asInt'], '9223372036854775807');
  assert.equal(dps[3]!['asDouble'], 0.25);
  assert.equal(dps[3]!['asInt'], undefined, 'an absent oneof member is no value (not a prototype default)');
  assert.equal(dps[3]!['timeUnixNano'], undefined, 'a timestamp not sent is missing, not 0');
  // One sent as 0 is 0, as the JSON mapping would carry it.
  assert.equal(firstPoints(decodeOtlpProtobuf(request.encode(points([{ timeUnixNano: '0', asInt: '0' }])).finish()))[0]!['asInt'], '0');
});

test('only scalar attribute values are kept (bytes, kvlists, arrays are not read by the mapping); nesting of any depth costs no recursion of ours', () => {
  let deep: object = { stringValue: 'bottom' };
  for (let i = 0; i < 60; i++) deep = { kvlistValue: { values: [{ key: `k${i}`, value: deep }] } };
  const bytes = request.encode(points([{ timeUnixNano: '1' }], [{ key: 'raw', value: { bytesValue: Buffer.from([1, 2, 3]) } }, { key: 'deep', value: deep }, { key: 'n', value: { intValue: '-7' } }, { key: 'host.name', value: { stringValue: 'h' } }])).finish();
  const json = decodeOtlpProtobuf(bytes);
  assert.deepEqual(json.resourceMetrics![0]!.resource!.attributes, [
    { key: 'raw', value: {} },
    { key: 'deep', value: {} },
    { key: 'n', value: { intValue: '-7' } },
    { key: 'host.name', value: { stringValue: 'h' } },
  ]);
  // 20,000 nested kvlists written by hand (AnyValue.kvlist_value = 6, KeyValueList.values = 1, KeyValue.key = 1, value = 2):
  // decoded or refused as a validation error, never a crash.
  const w = protobuf.Writer.create;
  let value = w().uint32(10).string('bottom').finish();
  for (let i = 0; i < 20_000; i++) value = w().uint32(50).bytes(w().uint32(10).bytes(w().uint32(10).string('k').uint32(18).bytes(value).finish()).finish()).finish();
  const attribute = w().uint32(10).string('deep').uint32(18).bytes(value).finish();
  const body = w().uint32(10).bytes(w().uint32(10).bytes(w().uint32(10).bytes(attribute).finish()).finish()).finish(); // request.resourceMetrics[0].resource.attributes[0]
  try {
    assert.deepEqual(decodeOtlpProtobuf(body).resourceMetrics![0]!.resource!.attributes, [{ key: 'deep', value: {} }]);
  } catch (e) {
    assert.ok(e instanceof AppError && e.code === 'VALIDATION', String(e));
  }
});

test('wire data that is not a request is a validation error naming the body; too many points are refused before decoding', () => {
  for (const bad of [Buffer.from([0x0a, 0x05, 0x01]), Buffer.from([0x0f]), Buffer.from('{"resourceMetrics":[]}')]) {
    assert.throws(() => decodeOtlpProtobuf(bad), (e: unknown) => e instanceof AppError && e.code === 'VALIDATION' && /^body: not a protobuf ExportMetricsServiceRequest/.test(e.message), bad.toString('hex'));
  }
  // 50 empty points in a gauge, over a bound of 10.
  const gauge = Buffer.alloc(100, Buffer.from([0x0a, 0x00]));
  const w = protobuf.Writer.create;
  const metric = w().uint32(10).string('system.cpu.utilization').uint32(42).bytes(gauge).finish();
  const body = w().uint32(10).bytes(w().uint32(18).bytes(w().uint32(18).bytes(metric).finish()).finish()).finish();
  assert.throws(() => decodeOtlpProtobuf(body, { maxDataPoints: 10 }), (e: unknown) => e instanceof AppError && e.code === 'PAYLOAD_TOO_LARGE' && e.details?.['rule'] === 'max-data-points');
  assert.equal(firstPoints(decodeOtlpProtobuf(body, { maxDataPoints: 50 })).length, 50);
});
