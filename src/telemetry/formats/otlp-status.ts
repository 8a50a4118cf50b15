import protobuf from 'protobufjs/minimal.js';

/**
 * The google.rpc.Status that OTLP/HTTP answers every 4xx and 5xx with, in the request's own
 * encoding (protobuf for a protobuf request, the proto3 JSON mapping for a JSON one), so an
 * OpenTelemetry exporter can read why it was refused. `details` carries one google.rpc.ErrorInfo:
 * Prescient's error code as `reason`, and what names the problem (`field`, `rule`, the request
 * id) as `metadata`; a refusal for load adds a google.rpc.RetryInfo, which is how OTLP says that
 * RESOURCE_EXHAUSTED is worth retrying and after how long. opentelemetry-proto does not define these messages; they are written here
 * with protobufjs's own writer, field numbers from google/rpc/status.proto and error_details.proto.
 */
export interface OtlpStatus {
  /** A gRPC status code. */
  code: number;
  message: string;
  details: (ErrorInfo | RetryInfo)[];
}

interface ErrorInfo {
  '@type': typeof errorInfoType;
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

/** `retryDelay` as the proto3 JSON mapping writes a google.protobuf.Duration: `"2s"`. */
interface RetryInfo {
  '@type': typeof retryInfoType;
  retryDelay: string;
}

const errorInfoType = 'type.googleapis.com/google.rpc.ErrorInfo';
const retryInfoType = 'type.googleapis.com/google.rpc.RetryInfo';

/** gRPC status codes for the HTTP statuses an OTLP request can meet (unknown, 2, for others). */
const grpcCodeByHttp: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 499: 1, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4 };

export function otlpStatus(input: { httpStatus: number; message: string; reason: string; metadata?: Record<string, string>; retryAfterSeconds?: number }): OtlpStatus {
  const details: OtlpStatus['details'] = [{ '@type': errorInfoType, reason: input.reason, domain: 'prescient', metadata: input.metadata ?? {} }];
  if (input.retryAfterSeconds !== undefined) details.push({ '@type': retryInfoType, retryDelay: `${Math.round(input.retryAfterSeconds)}s` });
  return { code: grpcCodeByHttp[input.httpStatus] ?? 2, message: input.message, details };
}

/**
 * Status: code = 1, message = 2, details = 3 (Any: type_url = 1, value = 2); ErrorInfo: reason = 1,
 * domain = 2, metadata = 3 (map entries: key = 1, value = 2); RetryInfo: retry_delay = 1 (Duration: seconds = 1).
 */
export function encodeOtlpStatus(status: OtlpStatus): Buffer {
  const w = protobuf.Writer.create().uint32(8).int32(status.code).uint32(18).string(status.message);
  for (const d of status.details) {
    const value = protobuf.Writer.create();
    if (d['@type'] === retryInfoType) value.uint32(10).fork().uint32(8).int64(Number.parseInt(d.retryDelay, 10)).ldelim();
    else {
      value.uint32(10).string(d.reason).uint32(18).string(d.domain);
      for (const [k, v] of Object.entries(d.metadata)) value.uint32(26).fork().uint32(10).string(k).uint32(18).string(v).ldelim();
    }
    w.uint32(26).fork().uint32(10).string(d['@type']).uint32(18).bytes(value.finish()).ldelim();
  }
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
