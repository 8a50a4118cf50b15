import assert from 'node:assert/strict';
import type { RequestResult } from '../../src/workflow/request-result.js';
import type { ServeProcess } from './serve.js';

/**
 * `POST /v1/requests` on a running serve as the caller `authorization`; a status other than 200
 * fails the test with the body (and, for a 500, the server's error log lines: the body hides internals).
 */
export async function requestImage(server: ServeProcess, authorization: string, body: unknown): Promise<RequestResult> {
  const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  const errorLog = res.status === 500 ? `\n${server.stderr().split('\n').filter((l) => l.includes('"level":50')).join('\n').slice(-3000)}` : '';
  assert.equal(res.status, 200, `${JSON.stringify(body)}: ${text}${errorLog}`);
  return JSON.parse(text) as RequestResult;
}
