import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCounterRates } from './counter-rates.js';
import { parsePrometheusText } from './formats/prometheus-text.js';
import { nodeScrapeFrom } from './node-exporter.js';

const page = (cpuUser: number, cpuIdle: number, rx: number) => `# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} ${cpuIdle}
node_cpu_seconds_total{cpu="0",mode="user"} ${cpuUser}
node_cpu_seconds_total{cpu="1",mode="idle"} ${cpuIdle}
node_cpu_seconds_total{cpu="1",mode="user"} ${cpuUser}
node_memory_MemTotal_bytes 8.589934592e+09
node_memory_MemAvailable_bytes 6.442450944e+09
node_network_receive_bytes_total{device="eth0"} ${rx}
node_network_receive_bytes_total{device="lo"} 99999999
node_uname_info{domainname="(none)",machine="x86_64",nodename="web \\"7\\"",release="6.1",sysname="Linux",version="#1"} 1
`;

test('the Prometheus text format parses names, escaped labels and values', () => {
  const s = parsePrometheusText(page(1, 2, 3));
  assert.equal(s.length, 9);
  assert.deepEqual(s[0], { name: 'node_cpu_seconds_total', labels: { cpu: '0', mode: 'idle' }, value: 2 });
  assert.equal(s[4]!.value, 8589934592);
  assert.equal(s.at(-1)!.labels.nodename, 'web "7"');
});

test('two node_exporter scrapes make one sample: gauges at once, counters as rates', () => {
  const rates = createCounterRates();
  const first = nodeScrapeFrom(parsePrometheusText(page(100, 100, 1000)), 0, rates);
  assert.equal(first.hasRates, false);
  assert.deepEqual(first.fields, { cpuCores: 2, memoryTotalBytes: 8589934592, memoryBytes: 2147483648 });
  const second = nodeScrapeFrom(parsePrometheusText(page(103, 101, 5000)), 4000, rates);
  assert.equal(second.nodename, 'web "7"');
  assert.deepEqual(second.fields, { cpuCores: 2, cpuPercent: 75, memoryTotalBytes: 8589934592, memoryBytes: 2147483648, netInBps: 1000 });
});
