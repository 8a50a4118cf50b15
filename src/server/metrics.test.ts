import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServe } from '../../test/support/serve.js';

/** `promtool check metrics` (Debian's prometheus package) over the text: its exit code and what it said. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics']);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

test('/metrics passes promtool and carries process, HTTP, build, queue, hit-rate and build-info families', async () => {
  const home = await mkdtemp(join(tmpdir(), 'prescient-metrics-'));
  const serve = await startServe(home);
  try {
    await fetch(`${serve.url}/healthz`);
    // Readiness on the embedded store: it answers, and there is no queue to ask.
    const ready = await fetch(`${serve.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok' } });
    await fetch(`${serve.url}/v1/routes`);
    await fetch(`${serve.url}/v2/nope/manifests/latest`);
    const r = await fetch(`${serve.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const checked = await promtool(text);
    assert.equal(checked.code, 0, checked.output);
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`));
    for (const f of [
      'process_cpu_seconds_total counter',
      'process_resident_memory_bytes gauge',
      'nodejs_eventloop_lag_seconds gauge',
      'prescient_http_request_duration_seconds histogram',
      'prescient_build_module_duration_seconds histogram',
      'prescient_builds_queued gauge',
      'prescient_builds_running gauge',
      'prescient_builds_total counter',
      'prescient_requests_total counter',
      'prescient_prebuilt_hit_ratio gauge',
      'prescient_build_info gauge',
      'prescient_telemetry_inflight_bytes gauge',
      'prescient_telemetry_inflight_requests gauge',
      'prescient_telemetry_refused_total counter',
    ]) assert.ok(families.has(f), `missing ${f}`);
    // Durations per route pattern and status: the route, never the raw path (no label per image name).
    assert.match(text, /^prescient_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} 1$/m);
    assert.match(text, /^prescient_http_request_duration_seconds_count\{method="GET",route="\/v2\/\*",status="\d{3}"\} 1$/m);
    assert.doesNotMatch(text, /route="\/v2\/nope/);
    assert.match(text, /^prescient_telemetry_refused_total\{limit="bytesPerCredential"\} 0$/m);
    assert.match(text, /^prescient_build_info\{version="\d+\.\d+\.\d+",node="v\d+[^"]*"\} 1$/m);
  } finally {
    await serve.stop();
    await rm(home, { recursive: true, force: true });
  }
});
