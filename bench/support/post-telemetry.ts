import { request, type Agent } from 'node:http';

/** One NDJSON body to `POST /v1/telemetry` on loopback `port`; resolves with the events serve accepted, rejects on any other status. */
export function postTelemetry(agent: Agent, port: number, body: Buffer, authorization: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/v1/telemetry', method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length, authorization } },
      (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => (r.statusCode === 200 ? res((JSON.parse(text) as { accepted: number }).accepted) : rej(new Error(`HTTP ${r.statusCode}: ${text.slice(0, 200)}`))));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}
