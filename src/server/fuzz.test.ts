import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import protobuf from 'protobufjs/minimal.js';
import { paths } from '../core/config.js';
import { seededRandom } from '../core/seeded-random.js';
import { Grants } from '../grants/grants.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { prescient } from '../../test/support/cli.js';
import { readOtlpStatus } from '../../test/support/otlp-status.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';

/**
 * Malformed requests over every route of a real `prescient serve`, through raw sockets (no
 * client library tidies them up). Seeded: FUZZ_SEED=<n> repeats a run, FUZZ_COUNT=<n> sizes it.
 * Every answer must be a 4xx (or a 2xx for what happens to be valid) whose body names the field
 * or rule; no 5xx, no crash, and `registry fsck` is clean afterwards.
 */
const seed = Number(process.env['FUZZ_SEED'] ?? 1312);
const count = Number(process.env['FUZZ_COUNT'] ?? 20_000);
const parallel = 8;

interface Case {
  kind: string;
  bytes: Buffer;
}

interface Answer {
  status: number;
  headers: string;
  body: string;
}

function exchange(port: number, bytes: Buffer): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 60_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      // Interim answers (100 Continue) come before the real one.
      const text = Buffer.concat(chunks).toString('latin1').replace(/^(?:HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      resolve(m ? { status: Number(m[1]), headers: m[2]!.toLowerCase(), body: m[3]! } : undefined);
    });
    // No half-close: Node's server aborts a request whose client sent FIN before the answer, as curl never does.
    socket.write(bytes);
  });
}

describe();

function describe(): void {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  const auth: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-fuzz-'));
    home = join(dir, 'home');
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    const a = await grants.credentials.issue('a');
    auth['admin'] = basicAuth(grants.credentials.admin);
    auth['client'] = basicAuth(a);
    auth['adminToken'] = `Bearer ${grants.tokenFor({ kind: 'admin' }, []).token}`;
    auth['clientToken'] = `Bearer ${grants.grantFor('a').token}`;
    auth['proto'] = basicAuth({ username: '__proto__', secret: 'x' });
    auth['junk'] = 'Basic %%%';
    auth['none'] = '';
    server = await startServe(home, ['--max-body-mib', '1']);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test(`${count} malformed requests over every route: no crash, no 5xx, every 4xx names its field or rule, fsck clean (seed ${seed})`, { timeout: 240_000 }, async () => {
    const rnd = seededRandom(seed);
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, '1\n')); // 8 MiB from a few KiB, over this server's 1 MiB limit
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const int = (n: number): number => Math.floor(rnd() * n);
    const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join('');
    const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');

    const digests = [`sha256:${hex(64)}`, 'sha256:xyz', `sha512:${hex(128)}`, 'sha256:', `sha256:${hex(63)}`, 'md5:abc', '..%2F..%2Findex.json', `sha256:${hex(64)}/../..`, `SHA256:${hex(64)}`];
    const names = ['clients/a', 'clients/b', 'Clients/A', '..', 'clients/../../etc', 'clients/..%2F..', '-a', 'a//b', 'a/b/c/d/e/f', 'x'.repeat(300), '__proto__', 'constructor', '%00', 'clients/a%20b', 'clients/a/blobs'];
    const refs = ['latest', '..', '%2e%2e', 'sha256:zz', 'a'.repeat(200), '__proto__', 'v1.0', '-bad', ...digests];
    const v2Paths = (): string => {
      const name = pick(names);
      switch (int(7)) {
        case 0:
          return `/v2/${name}/manifests/${pick(refs)}`;
        case 1:
          return `/v2/${name}/blobs/${pick(digests)}`;
        case 2:
          return `/v2/${name}/blobs/uploads/${pick(['', 'nope', '../../x', hex(32), '%2e%2e%2f'])}${pick(['', `?digest=${pick(digests)}`, `?mount=${pick(digests)}&from=${pick(names)}`])}`;
        case 3:
          return `/v2/${name}/tags/list${pick(['', '?n=x', '?n=-1', '?n=1e9', '?last=%ff', '?n=2&last=zzz'])}`;
        case 4:
          return `/v2/${name}/referrers/${pick(digests)}${pick(['', '?artifactType=%00'])}`;
        case 5:
          return `/v2/${name}/${junk(int(12))}`;
        default:
          return pick(['/v2/', '/v2', '/v2//', '/v2/_catalog']);
      }
    };
    const v1Paths = ['/v1/telemetry', '/v1/metrics', '/v1/token', '/v1/requests', '/v1/usage-vectors', '/v1/usage-vectors/schema', '/v1/usage-vectors/validate', '/v1/clients/a/credentials', '/v1/clients/a/builds', '/v1/clients/__proto__/credentials', '/v1/clients/..%2F..%2Fetc/builds', '/healthz', '/metrics', '/v1/routes'];
    const queries = ['', '?client=a', '?client=__proto__', '?client=b', '?category=web', '?client=a&horizonHours=x', '?client=%ff%fe', '?scope=repository:clients/a:pull', '?scope=repository:__proto__:*', '?scope=%00', '?stream=1', `?${'a=1&'.repeat(500)}`];
    const bodies = (): { type: string; body: Buffer; encoding?: string } => {
      switch (int(13)) {
        case 0:
          return { type: 'application/json', body: Buffer.from(pick(['{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"clientId":"a","__proto__":{}}', '{"account":{"toString":1}}', '{"clientId":"__proto__"}', '{"clientId":1}', '{"parameters":{"__proto__":"x"},"clientId":"b"}'])) };
        case 1:
          return { type: 'application/json', body: Buffer.from(junk(int(200))) };
        case 2:
          return { type: 'application/x-ndjson', body: Buffer.from(Array.from({ length: 2000 + int(3000) }, () => pick(['1', '{', 'null', '[]', '"x"', '{"kind":"resource"}', junk(10)])).join('\n')) };
        case 3: {
          const dp = pick(['{"asInt":"x"}', '{"timeUnixNano":{},"asDouble":"1"}', '{"attributes":"no"}', '[]', 'null', '{"timeUnixNano":"1e400","asInt":"9".repeat(400)}']);
          return { type: 'application/json', body: Buffer.from(pick([`{"resourceMetrics":"x"}`, `{"resourceMetrics":[{"resource":{"attributes":[{"key":"host.name","value":{"intValue":{}}}]},"scopeMetrics":[{"metrics":[{"name":"system.cpu.time","sum":{"dataPoints":[${dp}]}}]}]}]}`, `{"resourceMetrics":[{"scopeMetrics":1}]}`, '[]', '{"__proto__":{"resourceMetrics":[]}}'])) };
        }
        case 4:
          return { type: 'application/json', body: Buffer.alloc(1024 * 1024 + int(4096), 'x') }; // over the 1 MiB limit of this server
        case 5:
          return { type: 'application/x-ndjson', body: Buffer.from(junk(100)), encoding: pick(['gzip', 'deflate', 'br', 'x-nope', 'gzip, gzip']) };
        case 6:
          return { type: 'application/x-ndjson', body: bomb, encoding: 'gzip' };
        case 7:
          return { type: pick(['text/csv', '', 'application/x-protobuf', 'multipart/form-data; boundary=x', 'application/json; charset=utf-7']), body: Buffer.from('{}') };
        case 8:
          return { type: 'application/vnd.oci.image.manifest.v1+json', body: Buffer.from(pick(['{"schemaVersion":2,"layers":[{"digest":"sha256:../../x","size":-1}]}', '{"schemaVersion":"2"}', '{"schemaVersion":2,"config":{"digest":"sha256:' + hex(64) + '","size":1,"mediaType":"x"},"layers":[]}', '{"__proto__":{"schemaVersion":2}}', junk(50)])) };
        case 9:
          return { type: 'application/octet-stream', body: Buffer.from(junk(int(5000))) };
        case 10:
          return { type: 'application/json', body: Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`) };
        case 11:
          return { type: pick(['application/x-protobuf', 'application/protobuf']), body: otlpJunk(), ...(int(3) === 0 ? { encoding: 'gzip' } : {}) };
        default:
          return { type: 'application/json', body: Buffer.from('{}') };
      }
    };
    /** OTLP protobuf that is not: random bytes, lengths past the end, wrong wire types, floods of empty points. */
    const otlpJunk = (): Buffer => {
      const w = protobuf.Writer.create;
      const metric = (points: Uint8Array) => w().uint32(10).string('system.cpu.utilization').uint32(42).bytes(points).finish();
      const nest = (m: Uint8Array) => w().uint32(10).bytes(w().uint32(18).bytes(w().uint32(18).bytes(m).finish()).finish()).finish();
      const bytes = pick([
        () => Buffer.from(junk(int(300)), 'latin1'),
        () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        () => Buffer.from([0x0f, 0x0a, 0x00]),
        () => nest(metric(Buffer.alloc(2 * (1000 + int(400_000)), Buffer.from([0x0a, 0x00])))), // empty points: over the point cap or the 1 MiB limit
        () => nest(metric(Buffer.from([0x0a, 0x09, 0x19, ...Buffer.alloc(8, 0xff)]))), // a point whose asDouble is NaN
        () => nest(Buffer.from(hex(int(200)), 'hex')),
      ])();
      return Buffer.from(bytes);
    };
    const headerNoise = (): string =>
      pick([
        '',
        `Range: ${pick(['bytes=abc', 'bytes=5-1', 'bytes=-', 'bytes=0-0,1-1', `bytes=${'9'.repeat(30)}-`, 'items=0-1'])}\r\n`,
        `Content-Range: ${pick(['100-200', 'bytes 5-1', 'x', '0-99999999999999999999'])}\r\n`,
        'Accept: application/x-ndjson\r\n',
        `X-Request-Id: ${pick(['ok-1', junk(100), '\u00ff'])}\r\n`,
        'Expect: 100-continue\r\n',
      ]);

    const request = (method: string, target: string, credential: string, body?: { type: string; body: Buffer; encoding?: string }): Buffer => {
      const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
      if (credential) head.push(`Authorization: ${credential}`);
      if (body) {
        if (body.type) head.push(`Content-Type: ${body.type}`);
        if (body.encoding) head.push(`Content-Encoding: ${body.encoding}`);
        head.push(`Content-Length: ${body.body.length}`);
      }
      const text = `${head.join('\r\n')}\r\n${headerNoise()}\r\n`;
      return body ? Buffer.concat([Buffer.from(text, 'latin1'), body.body]) : Buffer.from(text, 'latin1');
    };

    const makeCase = (): Case => {
      const credential = auth[pick(['none', 'admin', 'admin', 'client', 'adminToken', 'clientToken', 'proto', 'junk'])]!;
      switch (int(10)) {
        case 0: // bad request lines and paths
          return { kind: 'request line', bytes: Buffer.from(`${pick(['GET', 'POST', 'PUT', 'FOO', 'G\u00e9T', ''])} ${pick(['//', '///', '//@', '/\\\\', 'http://[', '*', '/%zz', '/%', `/${junk(20)}`, '/\u00ff\u00fe', '/v1/../v2/', '/?\u0000', '/'.repeat(3000), `/${'a'.repeat(70_000)}`, 'http://127.0.0.1/healthz'])} ${pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', ''])}\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1') };
        case 1: // not HTTP, bad headers
          return { kind: 'garbage', bytes: Buffer.from(pick(['\x00\x01\x02\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', `GET / HTTP/1.1\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`, 'GET / HTTP/1.1\r\nBad Header\r\n\r\n', 'POST /v1/telemetry HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', junk(300)]), 'latin1') };
        case 2:
        case 3:
        case 4: {
          const method = pick(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
          const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
          return { kind: 'v2', bytes: request(method, v2Paths(), credential === auth['admin'] ? auth['adminToken']! : credential, withBody ? bodies() : undefined) };
        }
        default: {
          const method = pick(['GET', 'GET', 'POST', 'POST', 'DELETE', 'PUT', 'HEAD']);
          const withBody = method === 'POST' || method === 'PUT';
          return { kind: 'v1', bytes: request(method, `${pick(v1Paths)}${pick(queries)}`, credential, withBody ? bodies() : undefined) };
        }
      }
    };

    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let unanswered = 0;
    let sent = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (sent < count && failures.length < 20) {
        const c = makeCase();
        sent++;
        const a = await exchange(server.port, c.bytes);
        const line = c.bytes.subarray(0, 160).toString('latin1').split('\r\n')[0];
        if (!a) {
          // Only a request the parser could not even frame may be dropped without an answer.
          if (c.kind !== 'garbage') failures.push(`no answer to ${c.kind}: ${line}`);
          unanswered++;
          continue;
        }
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        if (a.status >= 500) failures.push(`${a.status} for ${line}: ${a.body.slice(0, 300)}`);
        else if (a.status >= 400 && !/^head /i.test(line ?? '') && a.body !== '' && !namesFieldOrRule(a.body, a.headers)) failures.push(`${a.status} without a field or rule for ${line}: ${a.headers.replace(/\r\n/g, ' | ')} :: ${a.body.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`# fuzz seed ${seed}: ${sent} requests in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s); statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}; dropped garbage ${unanswered}\n`);
    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.equal(server.child.exitCode, null, 'serve exited');
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
    await server.stop();
    const fsck = await prescient(home, ['registry', 'fsck']);
    assert.equal(fsck.code, 0, fsck.stderr);
    assert.equal((fsck.json as { ok: boolean }).ok, true, JSON.stringify(fsck.json));
  });
}

/** A 4xx body names what was wrong: a field, a rule, or (OCI) a spec error code; never a bare "Bad Request". */
function namesFieldOrRule(body: string, headers: string): boolean {
  // OTLP/HTTP answers errors as a google.rpc.Status in the request's encoding; its ErrorInfo's
  // metadata names the field or the rule.
  const namedIn = (details: readonly { metadata?: Record<string, unknown> }[]): boolean =>
    details.some((d) => typeof d.metadata?.['field'] === 'string' || typeof d.metadata?.['rule'] === 'string');
  if (/^content-type: application\/x-protobuf/m.test(headers)) {
    const status = readOtlpStatus(Buffer.from(body, 'latin1'));
    return namedIn(status.details) || /^[\w.[\]\- ]+: /.test(status.message ?? '');
  }
  let j: { details?: { field?: unknown; rule?: unknown } | unknown[]; message?: unknown; errors?: { code?: unknown; message?: unknown }[]; issues?: { path?: unknown }[] };
  try {
    j = JSON.parse(body) as typeof j;
  } catch {
    return false;
  }
  if (Array.isArray(j.details) && namedIn(j.details as { metadata?: Record<string, unknown> }[])) return true;
  if (Array.isArray(j.errors) && j.errors[0]?.code !== undefined) return typeof j.errors[0].code === 'string' && typeof j.errors[0].message === 'string';
  // A usage vector's validation answer lists its issues by field path.
  if (Array.isArray(j.issues)) return j.issues.length > 0 && typeof j.issues[0]?.path === 'string';
  const details = Array.isArray(j.details) ? undefined : j.details;
  if (typeof details?.field === 'string' || typeof details?.rule === 'string') return true;
  return typeof j.message === 'string' && /^[\w.[\]\- ]+: /.test(j.message);
}
