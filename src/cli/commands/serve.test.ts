import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { paths } from '../../core/config.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { createAnonymiser } from '../../telemetry/anonymise.js';
import { loadOrCreateKeyring } from '../../telemetry/pseudonym-keys.js';
import { prescient } from '../../../test/support/cli.js';
import { repoPath } from '../../../test/support/repo.js';
import { startServe } from '../../../test/support/serve.js';
import { basicAuth } from '../../../test/support/basic-auth.js';

// Both exporters of the OpenTelemetry JS SDK: protobuf (its default, gzipped here as the
// Collector's exporters do by default) and JSON.
for (const [protocol, compression] of [['protobuf', 'gzip'], ['json', 'none']] as const) {
  test(`the OpenTelemetry JS SDK with host-metrics, exporting OTLP/HTTP ${protocol} (${compression}) to \`prescient serve\`, lands CPU, memory, disk and network samples`, async () => {
    const home = mkdtempSync(join(tmpdir(), 'prescient-otel-'));
    // host metrics come from inside the machine (source agent): the subject opts in first.
    assert.equal((await prescient(home, ['consent', 'grant', 'vm:otel-test-vm'])).code, 0);
    // The exporter writes with a source credential issued for this one subject.
    const issued = await prescient(home, ['credentials', 'issue-source', 'otel-exporter', '--subject', 'vm:otel-test-vm']);
    assert.equal(issued.code, 0, issued.stderr);
    const source = issued.json as { username: string; secret: string };
    const serve = await startServe(home);
    try {
      const app = repoPath('dist/test/fixtures/otel-host-metrics-app.js');
      const env = { ...process.env, OTLP_AUTHORIZATION: basicAuth(source) };
      // The fixture exits 1 if any export failed (its exporter parses our answers too).
      const run = await promisify(execFile)(process.execPath, [app, `${serve.url}/v1/metrics`, '3', 'otel-test-vm', protocol, compression], { timeout: 60_000, env });
      assert.match(run.stdout, /^[1-9]\d* exports succeeded, 0 failed$/m);
      const subject = createAnonymiser({ keyring: loadOrCreateKeyring(paths(home).secrets) }).pseudonym('vm', 'otel-test-vm');
      const store = openSqliteStore({ file: paths(home).store });
      try {
        const rollups = await store.rollups(subject);
        assert.ok(rollups.length >= 1, 'no rollup for the SDK host');
        const seen = new Set(rollups.flatMap((r) => Object.keys(r.samples)));
        for (const f of ['cpuCores', 'cpuPercent', 'memoryBytes', 'memoryTotalBytes', 'diskReadBps', 'diskWriteBps', 'netInBps', 'netOutBps']) {
          assert.ok(seen.has(f), `no ${f} sample landed (got ${[...seen].join(', ')})`);
        }
        const m = rollups.at(-1)!;
        assert.ok(m.mean.memoryBytes! > 1e6 && m.mean.memoryBytes! <= m.mean.memoryTotalBytes!, JSON.stringify(m));
        assert.ok(m.mean.cpuPercent! >= 0 && m.mean.cpuPercent! <= 100);
        const counts = await store.counts();
        assert.ok(counts.resource >= 3, `only ${counts.resource} samples`);
      } finally {
        await store.close();
      }
    } finally {
      await serve.stop();
    }
  });
}

test('serve --unused-minutes-per-session refuses anything but positive minutes up to three days, naming the flag, before it starts', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-serve-budget-'));
  try {
    for (const bad of ['-5', '0', 'lots', '10000']) {
      const r = await prescient(home, ['serve', '--port', '0', '--unused-minutes-per-session', bad], 30_000);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--unused-minutes-per-session/);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
