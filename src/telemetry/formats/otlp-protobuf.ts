// The OpenTelemetry project's own protobufjs code, generated from opentelemetry-proto: 0.217.0 is
// the last otlp-transformer whose generated root still carries decode (later ones only write).
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import protobuf from 'protobufjs/minimal.js';
import { AppError, ValidationError } from '../../core/errors.js';
import { defaultMaxDataPoints, tooManyDataPoints } from './otlp.js';

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

/** Deeper than this, attribute values (kvlists in arrays in kvlists…) are dropped: the mapping reads only scalars. */
const maxDepth = 24;

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}
// protobufjs decodes 64-bit fields as long.js Longs (it depends on long, so the class is there).
const Long = protobuf.util.Long as unknown as abstract new (...args: never[]) => LongLike;

/** Through BigInt: 15× faster than long.js's own toString, which every timestamp goes through. */
function longToString(v: LongLike): string {
  if (v.high === 0) return String(v.low >>> 0);
  const u64 = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return (v.unsigned ? u64 : BigInt.asIntN(64, u64)).toString();
}

/**
 * A decoded message as the OTLP/HTTP JSON mapping writes it (int64 as decimal strings, bytes as
 * base64), so one mapping to events (decodeOtlpMetrics) serves both encodings. Only fields the
 * wire carried are own properties of a protobufjs message; defaults sit on its prototype.
 */
function asJson(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (v instanceof Long) return longToString(v);
  if (depth >= maxDepth) return undefined;
  if (Array.isArray(v)) return v.length === 0 ? [] : v.map((x) => asJson(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) out[key] = asJson((v as Record<string, unknown>)[key], depth + 1);
  return out;
}

/**
 * An OTLP/HTTP protobuf body (ExportMetricsServiceRequest) in the JSON mapping's shape, for
 * decodeOtlpMetrics. Bad wire data is a ValidationError naming the body; more than
 * `maxDataPoints` points a PAYLOAD_TOO_LARGE before any of them is decoded.
 */
export function decodeOtlpProtobuf(bytes: Uint8Array, limits: { maxDataPoints?: number } = {}): unknown {
  try {
    countDataPoints(bytes, limits.maxDataPoints ?? defaultMaxDataPoints);
    return asJson(metricsV1.ExportMetricsServiceRequest.decode(bytes), 0);
  } catch (e) {
    if (e instanceof AppError) throw e;
    // protobufjs says what was wrong with the wire ("index out of range", "invalid wire type 7").
    throw new ValidationError('body', `not a protobuf ExportMetricsServiceRequest (${(e as Error).message})`, { rule: 'otlp-protobuf' });
  }
}

/** The OTLP answer, `{}` or `{partialSuccess}`, as the ExportMetricsServiceResponse a protobuf client expects. */
export function encodeOtlpResponse(response: { partialSuccess?: { rejectedDataPoints: string; errorMessage: string } }): Buffer {
  const partial = response.partialSuccess;
  const message = partial ? { partialSuccess: { rejectedDataPoints: Number(partial.rejectedDataPoints), errorMessage: partial.errorMessage } } : {};
  const bytes = metricsV1.ExportMetricsServiceResponse.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** gRPC status codes for the HTTP statuses an OTLP request can meet (the Status body carries one). */
const grpcCodeByHttp: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 };

/**
 * The google.rpc.Status that OTLP/HTTP says a protobuf client gets with a 4xx or 5xx
 * (`code` = 1, `message` = 2; its `details` stay empty). opentelemetry-proto does not define it,
 * so it is written here with protobufjs's own writer.
 */
export function encodeOtlpStatus(httpStatus: number, message: string): Buffer {
  const bytes = protobuf.Writer.create().uint32(8).int32(grpcCodeByHttp[httpStatus] ?? 2).uint32(18).string(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
