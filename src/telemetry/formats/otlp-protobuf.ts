// The OpenTelemetry project's own protobufjs code, generated from opentelemetry-proto: 0.217.0 is
// the last otlp-transformer whose generated root still carries decode (later ones only write).
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import protobuf from 'protobufjs/minimal.js';
import { AppError, ValidationError } from '../../core/errors.js';
import { defaultMaxDataPoints, tooManyDataPoints, type OtlpMetricsRequest } from './otlp.js';

/** The media types of OTLP/HTTP protobuf (the spec's is the first; the second is seen in the wild). */
export const otlpProtobufMediaTypes = ['application/x-protobuf', 'application/protobuf'] as const;

interface MessageType {
  decode(bytes: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
}
// The generated .d.ts types the root as a reflection Root, but the static code is plain namespaces.
const metricsV1 = (generatedRoot as unknown as { opentelemetry: { proto: { collector: { metrics: { v1: Record<'ExportMetricsServiceRequest' | 'ExportMetricsServiceResponse', MessageType> } } } } })
  .opentelemetry.proto.collector.metrics.v1;

/**
 * Field numbers of ExportMetricsServiceRequest down to the data points, to count them on the wire
 * before anything is built: decoding 14 MB of empty points makes 7 million objects (~900 MB).
 */
const pathToPoints: Record<string, Record<number, string>> = {
  request: { 1: 'resourceMetrics' },
  resourceMetrics: { 2: 'scopeMetrics' },
  scopeMetrics: { 2: 'metric' },
  metric: { 5: 'points', 7: 'points', 9: 'points', 10: 'points', 11: 'points' }, // gauge, sum, histogram, exponential histogram, summary
  points: { 1: 'dataPoint' },
};

function countDataPoints(bytes: Uint8Array, maxDataPoints: number): number {
  const reader = protobuf.Reader.create(bytes);
  let count = 0;
  const scan = (end: number, kind: string): void => {
    const children = pathToPoints[kind]!;
    while (reader.pos < end) {
      const tag = reader.uint32();
      const child = children[tag >>> 3];
      if (child === undefined || (tag & 7) !== 2) {
        reader.skipType(tag & 7);
        continue;
      }
      const length = reader.uint32();
      const stop = reader.pos + length;
      if (stop > end) throw new RangeError(`a ${child} runs past its parent`);
      if (child === 'dataPoint') {
        if (++count > maxDataPoints) throw tooManyDataPoints(maxDataPoints);
        reader.skip(length);
      } else scan(stop, child);
    }
  };
  scan(bytes.length, 'request');
  return count;
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

/** Through BigInt: 15× faster than long.js's own toString, which every timestamp goes through. */
function longToString(v: LongLike): string {
  if (v.high === 0) return String(v.low >>> 0);
  const u64 = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return (v.unsigned ? u64 : BigInt.asIntN(64, u64)).toString();
}

/**
 * The decoded messages, as far as the mapping reads them: a field the wire carried is set on the
 * message; one it did not reads null (the generated code's prototype default) or an empty array.
 */
type Int64 = LongLike | number;
interface PbAnyValue {
  stringValue?: string | null;
  intValue?: Int64 | null;
  doubleValue?: number | null;
  boolValue?: boolean | null;
}
interface PbKeyValue {
  key: string | null;
  value?: PbAnyValue | null;
}
interface PbPoint {
  attributes: PbKeyValue[];
  startTimeUnixNano: Int64 | null;
  timeUnixNano: Int64 | null;
  asDouble?: number | null;
  asInt?: Int64 | null;
}
interface PbMetric {
  name: string | null;
  gauge?: { dataPoints: PbPoint[] } | null;
  sum?: { dataPoints: PbPoint[]; aggregationTemporality: number | null } | null;
}
interface PbRequest {
  resourceMetrics: { resource?: { attributes: PbKeyValue[] } | null; scopeMetrics: { metrics: PbMetric[] }[] }[];
}

/** int64 and fixed64 as the JSON mapping writes them: decimal strings. */
const int64 = (v: Int64): string => (typeof v === 'number' ? String(v) : longToString(v));
const optionalInt64 = (v: Int64 | null | undefined): string | undefined => (v == null ? undefined : int64(v));

type Attributes = NonNullable<NonNullable<NonNullable<OtlpMetricsRequest['resourceMetrics']>[number]['resource']>['attributes']>;

/** Scalar attribute values only: the mapping reads nothing else (kvlists, arrays and bytes are left out, however deep). */
function attributes(list: readonly PbKeyValue[]): Attributes {
  return list.map(({ key: k, value: v }) => {
    const key = k ?? '';
    if (v?.stringValue != null) return { key, value: { stringValue: v.stringValue } };
    if (v?.intValue != null) return { key, value: { intValue: int64(v.intValue) } };
    if (v?.doubleValue != null) return { key, value: { doubleValue: v.doubleValue } };
    if (v?.boolValue != null) return { key, value: { boolValue: v.boolValue } };
    return { key, value: {} };
  });
}

function dataPoints(points: readonly PbPoint[]) {
  return points.map((p) => ({
    attributes: attributes(p.attributes),
    startTimeUnixNano: optionalInt64(p.startTimeUnixNano),
    timeUnixNano: optionalInt64(p.timeUnixNano),
    asDouble: p.asDouble ?? undefined,
    asInt: optionalInt64(p.asInt),
  }));
}

/** What of a decoded request the mapping reads, in the typed shape zod gives a JSON body. */
function toRequest(decoded: PbRequest): OtlpMetricsRequest {
  return {
    resourceMetrics: decoded.resourceMetrics.map((rm) => ({
      resource: { attributes: attributes(rm.resource?.attributes ?? []) },
      scopeMetrics: rm.scopeMetrics.map((sm) => ({
        metrics: sm.metrics.map((m) => ({
          name: m.name ?? '',
          gauge: m.gauge ? { dataPoints: dataPoints(m.gauge.dataPoints) } : undefined,
          sum: m.sum ? { dataPoints: dataPoints(m.sum.dataPoints), aggregationTemporality: m.sum.aggregationTemporality ?? undefined } : undefined,
        })),
      })),
    })),
  };
}

/**
 * An OTLP/HTTP protobuf body (ExportMetricsServiceRequest) as the typed request mapOtlpMetrics
 * reads (int64 as decimal strings, as in the JSON mapping). Bad wire data is a ValidationError
 * naming the body; more than `maxDataPoints` points a PAYLOAD_TOO_LARGE before any is decoded.
 */
export function decodeOtlpProtobuf(bytes: Uint8Array, limits: { maxDataPoints?: number } = {}): OtlpMetricsRequest {
  let decoded: PbRequest;
  try {
    countDataPoints(bytes, limits.maxDataPoints ?? defaultMaxDataPoints);
    decoded = metricsV1.ExportMetricsServiceRequest.decode(bytes) as PbRequest;
  } catch (e) {
    if (e instanceof AppError) throw e;
    // protobufjs says what was wrong with the wire ("index out of range", "invalid wire type 7").
    throw new ValidationError('body', `not a protobuf ExportMetricsServiceRequest (${(e as Error).message})`, { rule: 'otlp-protobuf' });
  }
  return toRequest(decoded);
}

/** The OTLP answer, `{}` or `{partialSuccess}`, as the ExportMetricsServiceResponse a protobuf client expects. */
export function encodeOtlpResponse(response: { partialSuccess?: { rejectedDataPoints: string; errorMessage: string } }): Buffer {
  const partial = response.partialSuccess;
  const message = partial ? { partialSuccess: { rejectedDataPoints: Number(partial.rejectedDataPoints), errorMessage: partial.errorMessage } } : {};
  const bytes = metricsV1.ExportMetricsServiceResponse.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
