import protobuf from 'protobufjs/minimal.js';

/** A google.rpc.Status as a test reads it off the wire, its ErrorInfo details unpacked. */
export interface ReadStatus {
  code?: number;
  message?: string;
  details: { typeUrl: string; reason?: string; domain?: string; metadata: Record<string, string>; retryDelaySeconds?: number }[];
}

/**
 * Decodes a protobuf google.rpc.Status (code = 1, message = 2, details = 3 as Any: type_url = 1,
 * value = 2) and each google.rpc.ErrorInfo in it (reason = 1, domain = 2, metadata = 3 map) or
 * google.rpc.RetryInfo (retry_delay = 1, a Duration: seconds = 1), field
 * by field with protobufjs's reader: written apart from the server's encoder, so a test of one
 * checks the other.
 */
export function readOtlpStatus(bytes: Uint8Array): ReadStatus {
  const out: ReadStatus = { details: [] };
  fields(bytes, (tag, r) => {
    if (tag === 8) out.code = r.int32();
    else if (tag === 18) out.message = r.string();
    else if (tag === 26) {
      const detail: ReadStatus['details'][number] = { typeUrl: '', metadata: {} };
      fields(r.bytes(), (t, a) => {
        if (t === 10) detail.typeUrl = a.string();
        else if (t === 18 && detail.typeUrl.endsWith('/google.rpc.RetryInfo'))
          fields(a.bytes(), (u, info) => {
            if (u !== 10) return false;
            fields(info.bytes(), (v, duration) => {
              if (v !== 8) return false;
              detail.retryDelaySeconds = Number(duration.int64());
              return true;
            });
            return true;
          });
        else if (t === 18)
          fields(a.bytes(), (u, info) => {
            if (u === 10) detail.reason = info.string();
            else if (u === 18) detail.domain = info.string();
            else if (u === 26) {
              let key = '';
              let value = '';
              fields(info.bytes(), (v, entry) => {
                if (v === 10) key = entry.string();
                else if (v === 18) value = entry.string();
                else return false;
                return true;
              });
              detail.metadata[key] = value;
            } else return false;
            return true;
          });
        else return false;
        return true;
      });
      out.details.push(detail);
    } else return false;
    return true;
  });
  return out;
}

/** Calls `read` for each field's tag; a field it does not take (false) is skipped. */
function fields(bytes: Uint8Array, read: (tag: number, reader: protobuf.Reader) => boolean): void {
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (!read(tag, reader)) reader.skipType(tag & 7);
  }
}
